"""`lmforge.train(cfg)`: build the run (data, model, optimizer), resume if asked, loop, write final/."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lmforge.atomic_files import atomic_write_text
from lmforge.config import ExperimentConfig
from lmforge.errors import UserError
from lmforge.training.batches import Collate
from lmforge.training.checkpoint import load_checkpoint
from lmforge.training.distributed import is_sharded, shard, use_fsdp
from lmforge.training.lineage import record as record_lineage
from lmforge.training.loop import plan_steps, run_loop
from lmforge.training.loss import LossModule
from lmforge.training.metrics_log import MetricsLog
from lmforge.training.outputs import finish
from lmforge.training.privacy import check_privacy
from lmforge.training.run_checks import check_run
from lmforge.training.state import Callback, Run
from lmforge.training.trackers import require as require_trackers

Examples = list[dict[str, Any]]


def train(
    cfg: ExperimentConfig,
    resume: bool = False,
    *,
    data: tuple[Examples, Examples] | None = None,
    collate: Collate | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Fine-tune as `cfg` says; returns the final metrics (also in final/lmforge.json).

    `data` (train, val examples) and `collate` replace the tokenised splits of `data.output_dir` and the
    format layer's collate (notebooks, tests).
    >>> lmforge.train(lmforge.load_config("exp.yaml", ["train.max_steps=30"]))["val_loss"]  # doctest: +SKIP
    1.87
    """
    from lmforge.training.memory import tune_malloc

    out = Path(cfg.train.output_dir)
    tune_malloc()  # before the model loads: freed activations go back to the system (training/memory.py)
    require_trackers(cfg.train.report_to)  # a missing extra fails before the model loads
    check_privacy(cfg)
    checkpoint = check_run(cfg, resume, data_given=data is not None)
    run = setup_run(cfg, out, data, collate, list(callbacks), resume_step=_step_of(checkpoint))
    if cfg.train.objective == "grpo":  # sampling inside the step: not compiled, no val loss
        from lmforge.training.grpo import GrpoStep

        run.grpo = GrpoStep(run)
    elif cfg.train.compile is not False and cfg.train.privacy is None and not is_sharded(run.model):
        # train.compile (training/compiled.py); not under DP-SGD (Opacus' hooks) or FSDP
        from lmforge.training.compiled import CompiledStep

        device = run.accelerator.device.type
        run.compiled = CompiledStep(cfg.train.compile, run.model, cfg, run.total_steps, device)
    if cfg.train.privacy is not None:  # DP-SGD: Opacus hooks and optimizer (training/privacy_loop.py)
        from lmforge.training.privacy_loop import attach

        run.privacy = attach(run, from_disk=data is None)
    if checkpoint is not None:
        run.state = load_checkpoint(
            checkpoint,
            run.model,
            run.optimizer,
            run.scheduler,
            getattr(run.accelerator, "scaler", None),
            run.accelerator.process_index,
        )
    try:
        run_loop(run)
        metrics = finish(run)
        if run.compiled:
            metrics["compile"] = run.compiled.summary()
        run.log.finish(metrics)  # trackers: final metrics, config.yaml, metrics.jsonl
    finally:
        run.log.close()  # a run that raised is marked failed in its trackers
    return metrics


def _step_of(checkpoint: Path | None) -> int | None:
    return None if checkpoint is None else int(checkpoint.name.split("-")[1])


def setup_run(
    cfg: ExperimentConfig,
    out: Path,
    data: tuple[Examples, Examples] | None,
    collate: Collate | None,
    callbacks: list[Callback],
    resume_step: int | None,
) -> Run:
    """Accelerator, seed, tokenizer, examples, model, optimizer and schedule, in that order."""
    from accelerate.utils import set_seed

    from lmforge.models import load_tokenizer, pad_token_id
    from lmforge.training.fused_lora import fuse_lora
    from lmforge.training.optim import build_optimizer, build_scheduler
    from lmforge.training.setup import build_model, speed_up_on_cpu

    accelerator = _accelerator(cfg)
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model.name, cfg.model.trust_remote_code)
    train_ex, val_ex = data if data is not None else load_examples(cfg, tokenizer)
    if not train_ex:
        raise UserError(f"no training examples: {Path(cfg.data.output_dir) / 'train.jsonl'} is empty")
    labels = _labels(cfg, train_ex, from_data=data is None)
    model = build_model(cfg, tokenizer, labels)
    fsdp = use_fsdp(cfg, accelerator)
    speed_up_on_cpu(model, accelerator.mixed_precision, sharded=fsdp)
    if not fsdp and cfg.train.privacy is None:  # Opacus hooks the A and B modules; FSDP frees the shards
        fuse_lora(model)
    if fsdp:  # sharded before the optimizer sees the parameters
        wrapped = shard(_loss_module(cfg, model), model, accelerator.device)
        optimizer = accelerator.prepare(build_optimizer(model, cfg.train))
    else:
        wrapped, optimizer = accelerator.prepare(_loss_module(cfg, model), build_optimizer(model, cfg.train))
    units, val_units = to_units(train_ex, cfg), to_units(val_ex, cfg)
    if cfg.train.objective == "grpo":  # its held-out prompts are judged by `lmforge eval`, by reward
        val_units = []
    elif cfg.train.objective != "sft":  # a full fine-tune's reference log-probs, once, before any step
        from lmforge.training.preference_loss import cache_reference

        cache_reference(cfg, model, [units, val_units], pad_token_id(tokenizer), accelerator.autocast)
    total, per_epoch = plan_steps(len(units), cfg, accelerator.num_processes)
    scheduler = build_scheduler(optimizer, cfg.train, total)
    out.mkdir(parents=True, exist_ok=True)
    config_yaml = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    if accelerator.is_main_process:
        atomic_write_text(out / "config.yaml", config_yaml)
    pad_id = pad_token_id(tokenizer)
    return Run(
        cfg=cfg,
        out=out,
        accelerator=accelerator,
        model=model,
        wrapped=wrapped,
        tokenizer=tokenizer,
        optimizer=optimizer,
        scheduler=scheduler,
        units=units,
        val_units=val_units,
        collate=collate or _format_collate(cfg),
        pad_id=pad_id,
        total_steps=total,
        epoch_steps=per_epoch,
        log=MetricsLog(out, resume_step, accelerator.is_main_process, cfg, has_val=bool(val_units)),
        config_yaml=config_yaml,
        callbacks=callbacks,
        fingerprint=data_fingerprint(train_ex, val_ex),
        lineage=record_lineage(cfg, data_from_disk=data is None) if accelerator.is_main_process else None,
    )


def _accelerator(cfg: ExperimentConfig) -> Any:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from lmforge.training.setup import resolve_precision

    precision = resolve_precision(cfg.train.precision)
    if "LOCAL_RANK" not in os.environ:  # a second run in one process (notebook, tests) may change precision
        AcceleratorState._reset_state(True)
    import torch

    # cpu=True is what makes Accelerate see a torchrun launch on CPUs as MULTI_CPU (gloo)
    return Accelerator(mixed_precision=precision, cpu=not torch.cuda.is_available())


def load_examples(cfg: ExperimentConfig, tokenizer: Any) -> tuple[Examples, Examples]:
    """Tokenised train and val splits from the format layer (val may be absent: no evaluation then)."""
    from lmforge.formatting.token_cache import tokenize_split

    folder = Path(cfg.data.output_dir)
    if not (folder / "train.jsonl").is_file():
        raise UserError(f"no prepared data: {folder / 'train.jsonl'} not found (run `lmforge prepare` first)")
    # unpacked here: `to_units` packs, so examples handed in by a notebook are packed the same way
    val = tokenize_split(cfg, "val", tokenizer, packed=False) if (folder / "val.jsonl").is_file() else []
    return tokenize_split(cfg, "train", tokenizer, packed=False), val


def to_units(examples: Examples, cfg: ExperimentConfig) -> Examples:
    """Packed bins when `train.packing` (LM heads only, not under DP), else the examples themselves."""
    # under train.privacy a unit is a record: packing would mix records in one gradient row
    # preference pairs are never packed: each answer's log-prob is one row's sum (docs/preference.md)
    if not examples or not cfg.train.packing or cfg.task.head == "classifier" or cfg.train.privacy:
        return examples
    if cfg.train.objective != "sft":
        return examples
    from lmforge.formatting.packing import pack

    return pack(examples, cfg.train.max_seq_len)


def _loss_module(cfg: ExperimentConfig, model: Any) -> Any:
    """The module the loop calls: batch -> summed loss (CE, or a preference objective's per-pair sum)."""
    if cfg.train.objective in ("sft", "grpo"):  # grpo computes its loss itself (training/grpo.py)
        return LossModule(model)
    from lmforge.training.preference_loss import PreferenceLoss

    return PreferenceLoss(model, cfg.train)


def _format_collate(cfg: ExperimentConfig) -> Collate:
    if cfg.train.objective == "grpo":  # prompts; the answers are sampled in the step
        from lmforge.training.grpo import collate_prompts

        return collate_prompts
    if cfg.train.objective != "sft":  # chosen and rejected rows in one batch
        from lmforge.training.preference_loss import collate_for

        return collate_for(cfg.train.objective)
    from lmforge.formatting.packing import collate

    return collate


def _labels(cfg: ExperimentConfig, examples: Examples, from_data: bool) -> list[str] | None:
    """Class names of a classifier head: task.labels, else the set the format layer read from train.jsonl."""
    if cfg.task.head != "classifier":
        return None
    if cfg.task.labels:
        return list(cfg.task.labels)
    if from_data:
        from lmforge.formatting.token_cache import make_task

        return list(make_task(cfg).labels)
    return [str(i) for i in range(max(int(e["label"]) for e in examples) + 1)]


def data_fingerprint(*splits: Examples) -> str:
    """sha256 of the token ids and labels the model trained on (changes with data, tokenizer or template)."""
    h = hashlib.sha256()
    for split in splits:
        h.update(b"|split|")
        for e in split:
            h.update(np.asarray(e["input_ids"], dtype=np.int64).tobytes())
            h.update(np.asarray(e.get("labels", e.get("label", -1)), dtype=np.int64).tobytes())
    return h.hexdigest()
