"""Eval throughput: lmforge eval vs the HF Trainer's `evaluate()` (and the text-classification pipeline)
on the same records and the same fine-tuned LoRA model, and vs lmforge's own training tokens/s.

Setup (once, each in its own process): LoRA fine-tunes of the built-in model, a classifier head on
`issue_train` short tweets for `steps` x `batch` (issue #23's 125 x 16) and an SFT model on support-desk
pairs. Then, interleaved, every side scores the fine-tuned model alone on the same records, timed from the
records on disk to the metrics (model load and tokenising included):
- classification: lmforge (loss + class probabilities, one pass), HF Trainer.evaluate (loss + logits for
  compute_metrics; per_device_eval_batch_size 8, bf16 autocast, as its training ran), the
  `text-classification` pipeline (merged, bf16 weights, batch 8);
- SFT: lmforge (loss, `eval.generate_n: 0`) vs HF Trainer.evaluate (loss).
Tokens/s count every side against the same number: the records' input tokens as lmforge encodes them.
Issue #23's "done when": `lmforge eval` of `issue_test` tweets, base and fine-tuned, timed against the
125 x 16 training run on the same texts.

    python -m bench.eval --reps 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.eval_baselines import eval_hf_trainer, eval_pipeline
from bench.eval_data import bench_cfg, fresh_copy, make_eval_data, result_row, split_tokens, warm_imports


def train_side(p: dict[str, Any], kind: str) -> dict[str, Any]:
    """LoRA fine-tune; returns seconds and input tokens/s of the whole `lmforge.train` call."""
    import lmforge

    out = Path(p["work"]) / kind
    shutil.rmtree(out / "run", ignore_errors=True)
    if kind == "issue":
        train = {"max_steps": p["steps"], "batch_size": p["batch"], "lr": 3e-4}
    else:
        train = {"epochs": 1, "batch_size": 2, "lr": 2e-4, "packing": True}
    cfg = bench_cfg(p, kind, Path(p["data"][kind]), out / "run", **train)
    t0 = time.perf_counter()
    lmforge.train(cfg)
    secs = time.perf_counter() - t0
    rows = [json.loads(x) for x in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    tokens = max(r.get("tokens") or 0 for r in rows)
    loop = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s") is not None]
    return {
        "seconds": secs,
        "tokens": tokens,
        "tokens_per_s": tokens / secs,
        "loop_tokens_per_s": sum(loop) / len(loop),
    }


def eval_lmforge(p: dict[str, Any], kind: str, compare: bool = False) -> dict[str, Any]:
    import lmforge

    warm_imports()
    out = fresh_copy(p, kind, "lmforge")
    cfg = bench_cfg(p, kind, out / "data", out / "run")
    adapter = Path(p["work"]) / ("issue" if kind != "sft" else "sft") / "run" / "final"
    t0 = time.perf_counter()
    result = lmforge.evaluate(cfg, model_dir=str(adapter), compare=compare)
    secs = time.perf_counter() - t0
    tuned = result["finetuned"]
    return result_row(p, kind, secs, tuned["loss"], tuned.get("accuracy"), 2 if compare else 1)


VARIANTS = {
    "train_issue": lambda p: train_side(p, "issue"),
    "train_sft": lambda p: train_side(p, "sft"),
    "issue_eval": lambda p: eval_lmforge(p, "issue", compare=True),
    "lmforge_cls": lambda p: eval_lmforge(p, "cls"),
    "hf_trainer_cls": lambda p: eval_hf_trainer(p, "cls"),
    "pipeline_cls": eval_pipeline,
    "lmforge_sft": lambda p: eval_lmforge(p, "sft"),
    "hf_trainer_sft": lambda p: eval_hf_trainer(p, "sft"),
}
COMPARED = ["lmforge_cls", "hf_trainer_cls", "pipeline_cls", "lmforge_sft", "hf_trainer_sft"]


def bench_eval(
    model: str,
    n_cls: int,
    n_sft: int,
    reps: int,
    work: Path,
    steps: int = 125,
    batch: int = 16,
    issue_test: int = 2600,
    n_sft_train: int = 144,
    batch_tokens: int = 4096,
    smoke: bool = False,
) -> dict[str, Any]:
    from lmforge.models import resolve_model

    shutil.rmtree(work, ignore_errors=True)
    issue = {"train": steps * batch, "test": issue_test}
    params: dict[str, Any] = {
        "model": model,
        "model_dir": resolve_model(model),
        "work": str(work),
        "steps": steps,
        "batch": batch,
        "batch_tokens": batch_tokens,
        "smoke": smoke,
        "data": make_eval_data(work, n_cls, n_sft, n_sft_train, issue),
    }
    params["tokens"] = {
        kind: split_tokens(bench_cfg(params, kind, Path(params["data"][kind]), work / "unused"), "test")
        for kind in ("cls", "sft", "issue")
    }
    setup = {v: harness.run_child("eval", v, params) for v in ("train_issue", "train_sft", "issue_eval")}
    runs = harness.interleave("eval", COMPARED, params, reps)
    keys = ("tokens_per_s", "seconds", "peak_rss_mb")
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()
    }
    summary["setup"] = setup
    targets = []
    for ours, theirs, want in (
        ("lmforge_cls", "hf_trainer_cls", 3.0),
        ("lmforge_sft", "hf_trainer_sft", 3.0),
        ("lmforge_cls", "pipeline_cls", 1.0),
    ):
        ratio = harness.paired_ratio(runs, "tokens_per_s", ours, theirs)
        summary[f"{ours}_vs_{theirs}"] = ratio
        targets.append((f"eval tok/s {ours} vs {theirs}", f">= {want:g}x", ratio, ratio["median"] >= want))
    for kind, train in (("cls", "train_issue"), ("sft", "train_sft")):
        ratio = harness.summarize(
            [r["tokens_per_s"] / setup[train]["tokens_per_s"] for r in runs[f"lmforge_{kind}"]]
        )
        summary[f"eval_vs_train_{kind}"] = ratio
        targets.append((f"{kind} eval tok/s vs training tok/s", ">= 2.5x", ratio, ratio["median"] >= 2.5))
    done = setup["issue_eval"]["seconds"] / setup["train_issue"]["seconds"]
    summary["issue_eval_over_train_time"] = done
    harness.save("eval", params, runs, summary, targets, _note(params, runs, setup, done, reps))
    return summary


def _note(params: dict, runs: dict, setup: dict, done: float, reps: int) -> str:
    t = params["tokens"]
    sides = "; ".join(
        f"{v}: {harness.fmt(harness.summarize([r['tokens_per_s'] for r in rs]))} tok/s, "
        f"loss {_mean(rs, 'loss')}, accuracy {_mean(rs, 'accuracy')}, "
        f"RSS {harness.summarize([r['peak_rss_mb'] for r in rs])['median']:.0f} MB"
        for v, rs in runs.items()
    )
    tr, ev = setup["train_issue"], setup["issue_eval"]
    return (
        f"fine-tuned LoRA models, {reps} reps; cls: {t['cls']['records']} tweets (tokens p50 {t['cls']['p50']}), "
        f"sft: {t['sft']['records']} pairs (p50 {t['sft']['p50']}, max {t['sft']['max']}); {sides}; "
        f"training tok/s (whole call): classifier {tr['tokens_per_s']:.0f}, sft {setup['train_sft']['tokens_per_s']:.0f}; "
        f"issue #23 done-when: eval of {t['issue']['records']} tweets base + fine-tuned {ev['seconds']:.0f} s vs "
        f"{params['steps']} x {params['batch']} training {tr['seconds']:.0f} s (eval/train time {done:.2f})"
    )


def _mean(rs: list[dict], key: str) -> str:
    vals = [r[key] for r in rs if r.get(key) is not None]
    return f"{sum(vals) / len(vals):.4f}" if vals else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--cls", type=int, default=400, help="tweets every side scores")
    ap.add_argument("--sft", type=int, default=200, help="SFT pairs every side scores")
    ap.add_argument("--steps", type=int, default=125)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--issue-test", type=int, default=2600)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--work", default="runs/bench/eval")
    a = ap.parse_args()
    summary = bench_eval(
        a.model,
        a.cls,
        a.sft,
        a.reps,
        Path(a.work).resolve(),
        a.steps,
        a.batch,
        a.issue_test,
        batch_tokens=a.batch_tokens,
    )
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
