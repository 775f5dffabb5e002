"""DPO with LoRA: `lmforge train` (train.objective dpo) vs TRL's DPOTrainer(peft_config=...), same pairs.

Both sides: the same seeded pairs in the same order (TRL gets lmforge's epoch order and a sequential
sampler), LoRA r 16 / alpha 32 / dropout 0 on all linear layers, beta 0.1 (sigmoid loss), lr, cosine
schedule with 2 warmup steps, AdamW, clip 1.0, batch of B pairs (2B rows, one forward), max length 512
(no pair is longer, so neither side truncates), bf16 autocast, the same steps and torch threads, no
gradient checkpointing, no evaluation or saving inside the timed loop, no tracker. The reference is the
base model with the adapter disabled on both sides (TRL: peft_config and no ref_model), computed every
step (TRL's precompute_ref_log_probs off; lmforge caches nothing with LoRA). TRL's other settings that
change speed or memory: padding_free off (unavailable in TRL 1.16: it warns and pads), dataloader workers 0,
truncation_mode keep_start (never used here), disable_dropout on (no-op at dropout 0), dataset_num_proc None.

Measured per run, in its own process: pairs/s over the steps after `warmup` (from the end of step `warmup`
to the end of the last step, by a per-step callback on each side), peak RSS of the training
(ru_maxrss at the end of training), the last steps' training loss, and one shared val DPO loss.

    python -m bench.dpo --train 200 --val 32 --steps 20 --reps 2
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.dpo_data import describe, fresh_copy, make_data, read_pairs, same_loss, val_dpo_loss


def _threads(p: dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(p["threads"])


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    import lmforge
    from lmforge.config import ExperimentConfig

    _threads(p)
    out = fresh_copy(p, "lmforge")
    cfg = ExperimentConfig.model_validate(
        {
            "name": "bench-dpo",
            "seed": p["seed"],
            "task": {"type": "preference"},
            "model": {"name": p["model"], "lora": harness.lora_config(0.0)},
            "data": {"output_dir": str(out / "data"), "workers": 1},
            "train": {
                "output_dir": str(out / "run"),
                "objective": "dpo",
                "beta": p["beta"],
                "max_steps": p["steps"],
                "batch_size": p["batch"],
                "lr": p["lr"],
                "scheduler": "cosine",
                "warmup_steps": p["warmup_lr"],
                "max_grad_norm": 1.0,
                "max_seq_len": p["max_len"],
                "precision": "bf16",
                "eval_every": 0,
                "save_every": 10**6,
                "log_every": 1,
                "early_stopping": None,
                "report_to": [],
            },
        }
    )
    ends: list[float] = []
    t0 = time.perf_counter()
    lmforge.train(cfg, callbacks=[lambda run, row: ends.append(time.perf_counter())])
    secs = time.perf_counter() - t0
    rss = _maxrss_mb()
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if r.get("loss") is not None]
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    # final/ names the portable alias as its base, which AutoPeftModel would look up on the Hub
    base = AutoModelForCausalLM.from_pretrained(p["model_dir"])
    model = PeftModel.from_pretrained(base, str(out / "run" / "final"))
    return _result(p, secs, ends, losses, rss, model, p["answer_tokens_trained"])


def run_trl(p: dict[str, Any]) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    _threads(p)
    out = fresh_copy(p, "trl")
    ends: list[float] = []

    class StepEnds(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # after the optimizer step, as lmforge's callback
            ends.append(time.perf_counter())

    t0 = time.perf_counter()
    recs = read_pairs(out / "data", "train")
    ds = Dataset.from_list(
        [  # TRL's conversational format, in lmforge's epoch order (its sampler is sequential below)
            {
                "prompt": [{"role": "user", "content": recs[i]["prompt"]}],
                "chosen": [{"role": "assistant", "content": recs[i]["chosen"]}],
                "rejected": [{"role": "assistant", "content": recs[i]["rejected"]}],
            }
            for i in p["order"]
        ]
    )
    args = DPOConfig(
        output_dir=str(out / "run"),
        per_device_train_batch_size=p["batch"],
        gradient_accumulation_steps=1,
        max_steps=p["steps"],
        learning_rate=p["lr"],
        lr_scheduler_type="cosine",
        warmup_steps=p["warmup_lr"],
        max_grad_norm=1.0,
        beta=p["beta"],
        loss_type="sigmoid",
        max_length=p["max_len"],
        truncation_mode="keep_start",
        padding_free=False,
        precompute_ref_log_probs=False,
        gradient_checkpointing=False,
        bf16=True,
        use_cpu=not _cuda(),
        dataloader_num_workers=0,
        train_sampling_strategy="sequential",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=p["seed"],
    )
    peft_cfg = harness.peft_lora_config(0.0)
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(p["model_dir"]),
        args=args,
        train_dataset=ds,
        processing_class=AutoTokenizer.from_pretrained(p["model_dir"]),
        peft_config=peft_cfg,
        callbacks=[StepEnds()],
    )
    trainer.train()
    secs = time.perf_counter() - t0
    rss = _maxrss_mb()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    trained = trainer.train_dataset.select(range(min(len(ds), p["steps"] * p["batch"])))
    tokens = sum(len(c) + len(r) for c, r in zip(trained["chosen_ids"], trained["rejected_ids"], strict=True))
    return _result(p, secs, ends, losses, rss, trainer.model, tokens)


VARIANTS = {"lmforge": run_lmforge, "trl_dpo": run_trl}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _result(
    p: dict[str, Any],
    secs: float,
    ends: list[float],
    losses: list[float],
    rss: float,
    model: Any,
    tokens: int,
) -> dict[str, Any]:
    w = p["warmup"]
    timed = len(ends) - w
    span = ends[-1] - ends[w - 1] if timed > 0 and w > 0 else float("nan")
    tail = losses[-p["loss_tail"] :]
    val = val_dpo_loss(model, p)
    return {
        "steps": len(ends),
        "seconds": secs,
        "pairs_per_s": timed * p["batch"] / span,
        "step_s": span / timed,
        "train_maxrss_mb": rss,
        "train_loss_tail": sum(tail) / max(len(tail), 1),
        "answer_tokens_trained": tokens,
        "val_loss": val["val_loss"],
        "val_loss_se": val["val_loss_se"],
        "val_losses": val["val_losses"],
    }


def bench_dpo(
    model: str,
    n_train: int,
    n_val: int,
    reps: int,
    work: Path,
    steps: int = 20,
    batch: int = 4,
    max_len: int = 512,
    lr: float = 5e-5,
    warmup: int = 3,
    variants: list[str] | None = None,
    smoke: bool = False,
) -> dict[str, Any]:
    import torch

    from lmforge.models import resolve_model

    model_dir = resolve_model(model)
    params: dict[str, Any] = {
        "model": model,
        "model_dir": model_dir,
        "work": str(work),
        "steps": steps,
        "batch": batch,
        "max_len": max_len,
        "lr": lr,
        "beta": 0.1,
        "warmup": warmup,  # steps left out of pairs/s (first allocations, lazy initialisation)
        "warmup_lr": 2,  # learning-rate warmup steps, both sides
        "loss_tail": 5,  # training loss: mean of the last 5 steps
        "seed": 0,
        "threads": torch.get_num_threads(),
        "n_train": n_train,
        "n_val": n_val,
        "lora": harness.lora_config(0.0),
        "smoke": smoke,
    }
    params.update(make_data(work, n_train, n_val, model_dir, params))
    variants = variants or list(VARIANTS)
    runs = harness.interleave("dpo", variants, params, reps)
    keys = (
        "pairs_per_s",
        "step_s",
        "train_maxrss_mb",
        "peak_rss_mb",
        "seconds",
        "train_loss_tail",
        "val_loss",
    )
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()
    }
    targets = []
    if {"lmforge", "trl_dpo"} <= set(runs):
        speed = harness.paired_ratio(runs, "pairs_per_s", "lmforge", "trl_dpo")
        rss = harness.paired_ratio(runs, "train_maxrss_mb", "lmforge", "trl_dpo")
        same = [same_loss(a, b) for a, b in zip(runs["lmforge"], runs["trl_dpo"], strict=True)]
        summary.update(speedup_vs_trl_dpo=speed, rss_vs_trl_dpo=rss, val_loss_diff=same)
        targets += [
            ("pairs/s vs trl_dpo", ">= 2x", speed, speed["median"] >= 2.0),
            ("peak RSS vs trl_dpo", "<= 0.6x", rss, rss["median"] <= 0.6),
            (
                "val DPO loss lmforge - trl_dpo",
                "|diff| <= 2 SE",
                harness.summarize([d["diff"] for d in same]),
                all(d["within_2se"] for d in same),
            ),
        ]
    harness.save("dpo", params, runs, summary, targets, describe(params, summary, runs, reps))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--train", type=int, default=200)
    ap.add_argument("--val", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--variants", nargs="*", default=None, choices=list(VARIANTS))
    ap.add_argument("--work", default="runs/bench/dpo")
    a = ap.parse_args()
    s = bench_dpo(
        a.model, a.train, a.val, a.reps, Path(a.work).resolve(), a.steps, a.batch, variants=a.variants
    )
    print(json.dumps(s, indent=1, default=str))


if __name__ == "__main__":
    main()
