"""The model folders a run leaves: best/ (lowest val loss so far) and final/ (the last step), each with
lmforge.json (base model, adapter, labels, config, data fingerprint, lineage, metrics)."""

from __future__ import annotations

from typing import Any

from lmforge.training.checkpoint import save_model_folder
from lmforge.training.distributed import full_state, is_sharded
from lmforge.training.state import Run


def _metadata(run: Run, metrics: dict[str, Any]) -> dict[str, Any]:
    from lmforge.training.chain import chain_record, saved_base

    base = getattr(run.model.config, "_name_or_path", None) or run.cfg.model.name
    return {
        "base_model": saved_base(run.cfg),  # what the saved adapter names as its base
        # model.name was another run's LoRA adapter (SFT -> DPO): that run, its adapter's hash, the mode
        "chain": chain_record(run.cfg),
        "base_model_path": str(base),
        "adapter": run.cfg.model.lora is not None,
        "head": run.cfg.task.head,
        "labels": _id2label(run.model),
        "config": run.cfg.to_dict(),
        "data_fingerprint": run.fingerprint,
        "lineage": run.lineage,  # sha256 of data files, config, base weights; versions (training/lineage.py)
        "processes": run.accelerator.num_processes,
        "sharded": is_sharded(run.model),  # FSDP
        "metrics": metrics,
        # train.privacy: epsilon spent, delta, noise, sampling rate (training/privacy.py)
        "privacy": run.privacy.summary(run.state.privacy_history) if run.privacy else None,
    }


def _id2label(model: Any) -> list[str] | None:
    id2label = getattr(model.config, "id2label", None) if getattr(model.config, "num_labels", 0) else None
    return [id2label[i] for i in sorted(id2label)] if id2label and hasattr(model, "score") else None


def save_best(run: Run) -> None:
    state = full_state(run.model)  # every process takes part in gathering a sharded model
    if run.accelerator.is_main_process:
        save_model_folder(
            run.out / "best",
            run.model,
            run.tokenizer,
            _metadata(run, {"step": run.state.step, "val_loss": run.state.best_val}),
            state,
        )
    run.accelerator.wait_for_everyone()


def finish(run: Run) -> dict[str, Any]:
    """Write final/ (the weights at the last step) and return the run's final metrics."""
    st, last = run.state, run.last
    metrics = {
        "steps": st.step,
        "tokens": st.tokens,
        "train_loss": last.get("loss"),
        "val_loss": last.get("val_loss"),
        "val_perplexity": last.get("val_perplexity"),
        "best_val_loss": st.best_val,
        "best_step": st.best_step,
        "stopped_early": run.stop,
    }
    if run.privacy:
        metrics.update(epsilon=run.privacy.epsilon(st.privacy_history), delta=run.privacy.delta)
    state = full_state(run.model)
    if run.accelerator.is_main_process:
        save_model_folder(run.out / "final", run.model, run.tokenizer, _metadata(run, metrics), state)
    run.accelerator.wait_for_everyone()
    return metrics
