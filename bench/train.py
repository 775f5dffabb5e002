"""Training throughput: lmforge vs HF Trainer (padded) vs TRL SFTTrainer (packing), LoRA, same SFT data.

Same records, LoRA (r 16, alpha 32, dropout 0.05, all linear layers), learning rate, cosine schedule,
warmup 3%, one epoch (so the same trained tokens), bf16 autocast on CPU. Global batch: the HF Trainer
takes `batch` padded examples per step (DataCollatorForSeq2Seq, as the transformers docs show); the two
packers take `rows` bins of `max_seq_len` tokens, about the same tokens per step. The baselines keep
their other defaults (TRL: bfd packing, padding-free, gradient checkpointing on); `lmforge_ckpt` is lmforge
with `train.gradient_checkpointing` on, TRL's trade of compute for memory, for a like-for-like memory row.
Peak RSS is the training's: sampled up to the end of the last step, before the shared val loss.
Timed: from the records on disk to the trained model (tokenising and model load included), with no
evaluation inside (lmforge gets no val split). Then one shared function computes every model's val loss
on the same val set (token-weighted mean CE).

    python -m bench.train --train 144 --val 32 --reps 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.sft import _records, hf_examples, make_data, matmul_peak, val_loss


def _fresh(p: dict[str, Any], who: str) -> Path:
    """A private copy of the data folder, so no run finds another run's tokenised cache."""
    out = Path(p["work"]) / who
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(p["data"], out / "data")
    return out


def run_lmforge(p: dict[str, Any], checkpointing: bool = False) -> dict[str, Any]:
    import lmforge
    from lmforge.config import ExperimentConfig

    out = _fresh(p, "lmforge_ckpt" if checkpointing else "lmforge")
    # the baselines evaluate nothing while timed; without val.jsonl lmforge skips its step-0 and final val
    # loss too (the val loss of every side is computed afterwards by the same function)
    (out / "data" / "val.jsonl").unlink(missing_ok=True)
    cfg = ExperimentConfig.model_validate(
        {
            "name": "bench",
            "seed": 0,
            "task": {"type": "sft"},
            "model": {"name": p["model"], "lora": harness.lora_config()},
            "data": {"output_dir": str(out / "data"), "workers": 2},
            "train": {
                "output_dir": str(out / "run"),
                "epochs": 1,
                "batch_size": p["rows"],
                "lr": p["lr"],
                "max_seq_len": p["max_seq_len"],
                "packing": True,
                "precision": "bf16",
                "eval_every": 0,
                "save_every": 10**6,
                "log_every": 5,
                "early_stopping": None,
                "gradient_checkpointing": checkpointing,
            },
        }
    )
    t0 = time.perf_counter()
    metrics = lmforge.train(cfg)
    secs = time.perf_counter() - t0
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    # final/ names the portable hub id as its base, which AutoPeftModel would look up on the Hub
    base = AutoModelForCausalLM.from_pretrained(p["model_dir"])
    model = PeftModel.from_pretrained(base, str(out / "run" / "final"))
    return _result(p, secs, model, metrics["steps"])


def run_hf(p: dict[str, Any]) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    out = _fresh(p, "hf")
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(p["model_dir"])
    ds = Dataset.from_json(str(out / "data" / "train.jsonl"))
    ds = ds.map(
        lambda b: _columns(
            hf_examples(
                [dict(zip(b, v, strict=True)) for v in zip(*b.values(), strict=True)], tok, p["max_seq_len"]
            )
        ),
        batched=True,
        remove_columns=ds.column_names,
    )
    model = _peft(AutoModelForCausalLM.from_pretrained(p["model_dir"]))
    args = TrainingArguments(per_device_train_batch_size=p["batch"], **_trainer_args(p, out))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
    )
    trainer.train()
    secs = time.perf_counter() - t0
    return _result(p, secs, model, trainer.state.global_step)


def run_trl(p: dict[str, Any]) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    out = _fresh(p, "trl")
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(p["model_dir"])
    recs = _records({"data": out / "data"}, "train")
    ds = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": r["prompt"]}],
                "completion": [{"role": "assistant", "content": r["response"]}],
            }
            for r in recs
        ]
    )
    args = SFTConfig(
        per_device_train_batch_size=p["rows"],
        packing=True,
        max_length=p["max_seq_len"],
        **_trainer_args(p, out),
    )
    peft_cfg = harness.peft_lora_config()
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(p["model_dir"]),
        args=args,
        train_dataset=ds,
        processing_class=tok,
        peft_config=peft_cfg,
    )
    trainer.train()
    secs = time.perf_counter() - t0
    return _result(p, secs, trainer.model, trainer.state.global_step)


def run_limit(p: dict[str, Any]) -> dict[str, Any]:
    """The ceiling: a bare LoRA forward+backward+AdamW loop over the same input tokens in equal-length rows
    of max_seq_len (no framework, no masking, no packing bookkeeping); compare its input tokens/s."""
    import torch
    from transformers import AutoModelForCausalLM

    out = _fresh(p, "limit")
    t0 = time.perf_counter()
    tok_ids = [
        t
        for r in hf_examples(_records({"data": out / "data"}, "train"), _tok(p), p["max_seq_len"])
        for t in r["input_ids"]
    ]
    model = _peft(AutoModelForCausalLM.from_pretrained(p["model_dir"]))
    model.train()
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=p["lr"])
    width, rows = p["max_seq_len"], p["rows"]
    ids = torch.tensor(tok_ids[: len(tok_ids) // width * width]).view(-1, width)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    steps = 0
    for i in range(0, len(ids), rows):
        batch = ids[i : i + rows].to(device)
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = model(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        steps += 1
    secs = time.perf_counter() - t0
    return _result(p, secs, model, steps)


def _tok(p: dict[str, Any]) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(p["model_dir"])


def run_lmforge_ckpt(p: dict[str, Any]) -> dict[str, Any]:
    """lmforge with activation checkpointing, as TRL's SFTTrainer runs by default: memory like for like."""
    return run_lmforge(p, checkpointing=True)


VARIANTS = {
    "lmforge": run_lmforge,
    "lmforge_ckpt": run_lmforge_ckpt,
    "hf_trainer": run_hf,
    "trl_sft": run_trl,
    "limit": run_limit,
}


def _trainer_args(p: dict[str, Any], out: Path) -> dict[str, Any]:
    """The TrainingArguments both baselines share (SFTConfig extends them), so they train alike."""
    return {
        "output_dir": str(out / "run"),
        "learning_rate": p["lr"],
        "num_train_epochs": 1,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0.03,
        "bf16": True,
        "use_cpu": not _cuda(),
        "logging_steps": 5,
        "save_strategy": "no",
        "report_to": "none",
        "seed": 0,
    }


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in rows[0]}


def _peft(model: Any) -> Any:
    from peft import get_peft_model

    return get_peft_model(model, harness.peft_lora_config())


def _result(p: dict[str, Any], secs: float, model: Any, steps: int) -> dict[str, Any]:
    trained_at = time.time()  # the harness's training peak RSS stops here, before the val loss
    return {
        "trained_at": trained_at,
        "seconds": secs,
        "steps": steps,
        "label_tokens_per_s": p["label_tokens"] / secs,
        "input_tokens_per_s": p["input_tokens"] / secs,
        "mfu_bf16": 6 * p["n_params"] * p["input_tokens"] / secs / p["peak_bf16"],
        "val_loss": val_loss(model, p),
    }


def bench_train(
    model: str,
    n_train: int,
    n_val: int,
    reps: int,
    work: Path,
    batch: int = 6,
    rows: int = 2,
    max_seq_len: int = 512,
    lr: float = 2e-4,
    variants: list[str] | None = None,
    smoke: bool = False,
) -> dict[str, Any]:
    from transformers import AutoConfig, AutoModelForCausalLM

    from lmforge.models import resolve_model

    model_dir = resolve_model(model)
    cfgm = AutoConfig.from_pretrained(model_dir)
    n_params = sum(t.numel() for t in AutoModelForCausalLM.from_config(cfgm).parameters())
    peak = matmul_peak(seconds=0.3 if smoke else 2.0)
    params = {
        "model": model,
        "model_dir": model_dir,
        "work": str(work),
        "batch": batch,
        "rows": rows,
        "max_seq_len": max_seq_len,
        "lr": lr,
        "n_train": n_train,
        "n_val": n_val,
        "n_params": n_params,
        "peak_bf16": peak["bf16"],
        "peak_fp32": peak["fp32"],
        "smoke": smoke,
        **make_data(work, n_train, n_val, model_dir, max_seq_len),
    }
    variants = variants or list(VARIANTS)
    runs = harness.interleave("train", variants, params, reps)
    keys = (
        "label_tokens_per_s",
        "input_tokens_per_s",
        "seconds",
        "train_peak_rss_mb",
        "val_loss",
        "mfu_bf16",
        "steps",
    )
    summary = {v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()}
    targets = []
    for base, want in (("hf_trainer", 3.0), ("trl_sft", 2.5)):
        if base in runs and "lmforge" in runs:
            ratio = harness.paired_ratio(runs, "label_tokens_per_s", "lmforge", base)
            summary[f"speedup_vs_{base}"] = ratio
            # equal within noise: 0.5% of the baseline's val loss
            ok = ratio["median"] >= want and (
                summary["lmforge"]["val_loss"]["median"] <= 1.005 * summary[base]["val_loss"]["median"]
            )
            targets.append((f"train tok/s vs {base}", f">= {want}x, val loss within 0.5%", ratio, ok))
    for ours in ("lmforge", "lmforge_ckpt"):
        if "trl_sft" in runs and ours in runs:
            rss = harness.paired_ratio(runs, "train_peak_rss_mb", ours, "trl_sft")
            summary[f"rss_{ours}_vs_trl_sft"] = rss
            targets.append((f"training peak RSS {ours} vs trl_sft", "<= 0.5x", rss, rss["median"] <= 0.5))
    if "trl_sft" in runs and "lmforge_ckpt" in runs:
        ratio = harness.paired_ratio(runs, "label_tokens_per_s", "lmforge_ckpt", "trl_sft")
        summary["speedup_ckpt_vs_trl_sft"] = ratio
        targets.append(
            ("train tok/s, both checkpointing, vs trl_sft", ">= 2.5x", ratio, ratio["median"] >= 2.5)
        )
    if "limit" in runs and "lmforge" in runs:
        share = harness.paired_ratio(runs, "input_tokens_per_s", "lmforge", "limit")
        summary["share_of_limit"] = share
        targets.append(("input tok/s vs bare loop", ">= 0.8x", share, share["median"] >= 0.8))
    s = summary
    note = (
        f"{n_train} SFT examples (tokens p10/p50/p90/max {params['len_p10_p50_p90_max']}), 1 epoch, {reps} reps; "
        f"matmul peak bf16 {peak['bf16'] / 1e9:.0f} / fp32 {peak['fp32'] / 1e9:.0f} GFLOP/s; "
        + "; ".join(
            f"{v}: {harness.fmt(s[v]['label_tokens_per_s'])} label tok/s, {s[v]['steps']['median']:.0f} steps, "
            f"val loss {s[v]['val_loss']['median']:.4f}, MFU {100 * s[v]['mfu_bf16']['median']:.1f}%, "
            f"training peak RSS {s[v]['train_peak_rss_mb']['median']:.0f} MB"
            for v in runs
        )
    )
    harness.save("train", params, runs, summary, targets, note)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--train", type=int, default=144)
    ap.add_argument("--val", type=int, default=32)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--variants", nargs="*", default=None, choices=list(VARIANTS))
    ap.add_argument("--work", default="runs/bench/train")
    a = ap.parse_args()
    print(
        json.dumps(
            bench_train(a.model, a.train, a.val, a.reps, Path(a.work).resolve(), variants=a.variants),
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
