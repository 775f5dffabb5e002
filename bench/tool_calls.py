"""Tool calling learned from real questions: issue #30's done-when on BFCL v4 `simple_python` (bench/bfcl.py).

The 400 questions (one function each, arguments taken from the question) are shuffled with a fixed seed
(`random.Random(seed)`, seed 0) and split 300 train / 100 held out. `lmforge prepare` + `lmforge train`
(LoRA on the built-in model; the records in OpenAI's tool-calling form) fine-tune on the 300. Then the base
model and the trained run are each served by a real `lmforge serve` process on a loopback port, and every
held-out question is sent with the official `openai` client as a user would:
`client.chat.completions.create(messages=[the question], tools=[its function], temperature=0)`.
A reply counts as right when `message.tool_calls` holds exactly one call that BFCL's own checker accepts
(`bfcl.check_call`: the name, every required argument, each value among the allowed ones, no unknown
argument); "valid" when it holds calls whose arguments are a JSON object.

    python -m bench.tool_calls --work /tmp/lmforge-bench/tool_calls            # prepare, train, score both
    python -m bench.tool_calls --work ... --skip-train                          # score an existing run
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import bfcl, harness
from bench.tool_scoring import score_generated, score_served

BASE = "smollm2-135m-instruct"


def split(seed: int = 0, n_train: int = 300) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, held out) records of simple_python, shuffled by `seed`."""
    records = bfcl.bfcl("simple_python")
    random.Random(seed).shuffle(records)
    return records[:n_train], records[n_train:]


def experiment(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    """The experiment YAML: every train record trained on (no val split), LoRA on the built-in model."""
    return {
        "name": "bfcl-tool-calls",
        "seed": p["seed"],
        "data": {
            "sources": [{"path": str(work / "train.jsonl")}],
            "steps": ["exact_dedup"],
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
            "output_dir": str(work / "data"),
        },
        "task": {"type": "sft"},
        "model": {
            "name": p["model"],
            "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target": "all-linear"},
        },
        "train": {
            "output_dir": str(work / "run"),
            "epochs": p["epochs"],
            "max_steps": p.get("max_steps"),
            "batch_size": p["batch_size"],
            "lr": p["lr"],
            "scheduler": "cosine",
            "warmup_ratio": 0.05,
            "max_seq_len": p["max_seq_len"],
            "packing": True,
            "log_every": 2,
            "eval_every": 0,
            "save_every": 25,  # a run stopped for time still leaves an adapter to serve
            "keep": 1,
            "report_to": [],
        },
    }


def _lmforge(*args: str) -> float:
    """Run the real CLI; seconds taken. Its output goes to this process's stderr (progress, summaries)."""
    t0 = time.perf_counter()
    cmd = [str(Path(sys.executable).with_name("lmforge")), *args]
    proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode})")
    return time.perf_counter() - t0


def train(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    import yaml

    train_recs, held = split(p["seed"], p["n_train"])
    work.mkdir(parents=True, exist_ok=True)
    for name, recs in (("train.jsonl", train_recs), ("heldout.jsonl", held)):
        (work / name).write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    (work / "exp.yaml").write_text(yaml.safe_dump(experiment(work, p), sort_keys=False))
    prep_s = _lmforge("prepare", str(work / "exp.yaml"))
    train_s = _lmforge("train", str(work / "exp.yaml"))
    return {**trained(work), "prepare_s": prep_s, "train_s": train_s}


def trained(work: Path) -> dict[str, Any]:
    """What the run in `work` did, from its own files (config.yaml, metrics.jsonl, the data's stats.json)."""
    import yaml

    stats = json.loads((work / "data" / "stats.json").read_text())
    cfg = yaml.safe_load((work / "run" / "config.yaml").read_text())["train"]
    metrics = [json.loads(line) for line in (work / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    return {
        "kept": stats["accounting"]["kept"],
        "read": stats["read"],
        "config": {k: cfg[k] for k in ("epochs", "max_steps", "batch_size", "lr", "max_seq_len", "packing")},
        "steps": max((m.get("step", 0) for m in metrics), default=0),
        "tokens": max((m.get("tokens", 0) for m in metrics), default=0),  # cumulative in metrics.jsonl
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
    }


def bench_tool_calls(work: Path, p: dict[str, Any], skip_train: bool = False) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    runs["train"] = trained(work) if skip_train else train(work, p)
    print(f"[tool_calls] trained: {runs['train']}", file=sys.stderr, flush=True)
    held = [json.loads(line) for line in (work / "heldout.jsonl").read_text().splitlines()]
    held = held[: p["n_eval"]] if p.get("n_eval") else held
    items = {it["id"]: it for it in bfcl.items("simple_python")}
    for name, model in (("base", p["model"]), ("tuned", str(work / "run"))):
        if p["via"] == "serve":
            try:
                runs[name] = score_served(model, held, items, p)
            except Exception as e:  # noqa: BLE001 - the run stays useful: say why, score in-process
                print(
                    f"[tool_calls] serve failed ({e!r}); scoring {name} in-process",
                    file=sys.stderr,
                    flush=True,
                )
                runs[name] = {**score_generated(model, held, items, p), "serve_error": repr(e)}
        else:
            runs[name] = score_generated(model, held, items, p)
        print(f"[tool_calls] {name}: {_line(runs[name])}", file=sys.stderr, flush=True)
        for f in runs[name]["failures_sample"]:
            got = f["calls"] or (f["content"] or "")[:120]
            print(f"  {f['id']}: {f['error']} | got {got}", file=sys.stderr, flush=True)
    base, tuned = runs["base"], runs["tuned"]
    one = lambda v: {"median": v, "min": v, "max": v}  # noqa: E731 - single run
    targets = [
        ("tuned accuracy", ">= 0.50", one(tuned["accuracy"]), tuned["accuracy"] >= 0.5),
        (
            "tuned - base",
            ">= 0.30",
            one(tuned["accuracy"] - base["accuracy"]),
            tuned["accuracy"] - base["accuracy"] >= 0.3,
        ),
    ]
    tr = runs["train"]
    c = tr["config"]
    train_time = f" in {tr['train_s']:.0f} s" if "train_s" in tr else ""
    note = (
        f"BFCL v4 simple_python, {p['n_train']} train / {len(held)} held out (seed {p['seed']}); "
        f"LoRA r16 all-linear on {p['model']}, {c['epochs']} epochs, lr {c['lr']}, batch {c['batch_size']}, "
        f"packed {c['max_seq_len']}: {tr['steps']} steps{train_time}, {tr['tokens']} tokens, "
        f"loss {tr['loss_first']:.3f} -> {tr['loss_last']:.3f}; greedy, max_tokens {p['max_tokens']}; "
        f"base {_line(base)}; tuned {_line(tuned)}; scored by BFCL's simple_function_checker"
    )
    harness.save(
        "tool_calls",
        {**p, "smoke": p.get("smoke", False)},
        runs,
        {"base": base, "tuned": tuned},
        targets,
        note,
    )
    return runs


def _line(r: dict[str, Any]) -> str:
    return (
        f"right {r['right']}/{r['n']} ({r['accuracy']:.2f}), valid calls {r['valid']}/{r['n']}, "
        f"no call {r['no_call']}, {r['seconds']:.0f} s ({r['via']})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/lmforge-bench/tool_calls")
    ap.add_argument("--epochs", type=float, default=1.5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-seq-len", type=int, default=576)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--n-eval", type=int, default=None, help="score only the first N held-out questions")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument(
        "--via", choices=["serve", "generate"], default="serve", help="generate: in-process fallback"
    )
    a = ap.parse_args()
    p = {
        "model": BASE,
        "seed": 0,
        "n_train": 300,
        "epochs": a.epochs,
        "lr": a.lr,
        "batch_size": a.batch_size,
        "max_seq_len": a.max_seq_len,
        "max_steps": a.max_steps,
        "n_eval": a.n_eval,
        "clients": a.clients,
        "max_tokens": a.max_tokens,
        "via": a.via,
    }
    runs = bench_tool_calls(Path(a.work).resolve(), p, a.skip_train)
    print(
        json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in runs.items()}, indent=1)
    )


if __name__ == "__main__":
    main()
