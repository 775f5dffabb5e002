"""train.compile: compiled vs eager step time, and the compile time with a cold and a warm inductor cache.

The built-in model, LoRA r16 on all linear layers (dropout 0.05), bf16 autocast, packed rows of batch x
max_seq_len tokens, on bench/train.py's SFT data. Each variant is `lmforge.train` in a fresh process (the
harness): `eager` (train.compile false), `cold` (true, an empty inductor cache), `warm` (true, the cache the
cold run filled: a second run of the same model). Step time: median of the steps after the first two (the
first compiled step holds the compile). Compile time: dynamo's compilations as lmforge counts them, and the
first compiled step minus a steady step.

    python -m bench.compile --steps 8
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.sft import make_data


def run(p: dict[str, Any], compile_: bool) -> dict[str, Any]:
    import lmforge
    from lmforge.config import ExperimentConfig

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = p["cache"]
    out = Path(p["work"]) / f"run-{time.time_ns()}"
    cfg = ExperimentConfig.model_validate(
        {
            "name": "bench-compile",
            "seed": 0,
            "task": {"type": "sft"},
            "model": {"name": p["model"], "lora": harness.lora_config()},
            "data": {"output_dir": p["data"], "workers": 1},
            "train": {
                "output_dir": str(out),
                "max_steps": p["steps"],
                "batch_size": p["rows"],
                "max_seq_len": p["max_seq_len"],
                "packing": True,
                "precision": "bf16",
                "compile": compile_,
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
    metrics = lmforge.train(cfg, callbacks=[lambda run, row: ends.append(time.perf_counter())])
    steps = [b - a for a, b in zip([t0, *ends], ends, strict=False)][1:]  # step 1 also has the model load
    losses = [json.loads(line).get("loss") for line in (out / "metrics.jsonl").read_text().splitlines()]
    shutil.rmtree(out, ignore_errors=True)
    steady = statistics.median(steps[2:]) if len(steps) > 2 else float("nan")
    c = metrics.get("compile", {})
    return {
        "step_s": steady,
        "first_step_s": steps[0] if steps else float("nan"),  # step 2 of the run when step 1 was eager
        "step_times": steps,
        "compile_s": c.get("compile_s", 0.0),
        "first_step_minus_steady_s": (c.get("first_compiled_step_s") or steps[0]) - steady,
        "recompilations": c.get("recompilations", 0),
        "graph_breaks": c.get("graph_breaks", 0),
        "losses": [x for x in losses if x is not None],
    }


VARIANTS = {"eager": lambda p: run(p, False), "cold": lambda p: run(p, True), "warm": lambda p: run(p, True)}


def bench_compile(model: str, steps: int, rows: int, max_seq_len: int, work: Path, n_train: int) -> None:
    from lmforge.models import resolve_model

    work.mkdir(parents=True, exist_ok=True)
    cache = work / "inductor"
    shutil.rmtree(cache, ignore_errors=True)  # cold means cold
    params = {
        "model": model,
        "work": str(work),
        "cache": str(cache),
        "steps": steps,
        "rows": rows,
        "max_seq_len": max_seq_len,
        **make_data(work, n_train, 1, resolve_model(model), max_seq_len),
    }
    (work / "data" / "val.jsonl").unlink()  # no step-0 or final val loss inside the timed runs
    runs = {}
    for v in ("eager", "cold", "warm"):
        runs[v] = [harness.run_child("compile", v, params)]
        print(v, json.dumps({k: x for k, x in runs[v][0].items() if k != "losses"}, default=str), flush=True)
    r = {v: rs[0] for v, rs in runs.items()}
    one = lambda x: {"median": x, "min": x, "max": x, "n": 1}  # noqa: E731 - one repetition
    speed = one(r["eager"]["step_s"] / r["warm"]["step_s"])
    summary = {
        "speedup_warm_vs_eager": speed,
        **{v: {k: x[k] for k in x if k != "losses"} for v, x in r.items()},
    }
    diffs = [abs(a - b) / abs(a) for a, b in zip(r["eager"]["losses"], r["cold"]["losses"], strict=False)]
    note = (
        f"built-in model, LoRA r16 all-linear, bf16 autocast, packed {rows} x {max_seq_len}, {steps} steps per "
        f"run, 1 rep, each a fresh process; s/step eager {r['eager']['step_s']:.2f}, compiled (cold run) "
        f"{r['cold']['step_s']:.2f}, compiled (warm run) {r['warm']['step_s']:.2f}; compile time (dynamo+inductor) "
        f"cold {r['cold']['compile_s']:.0f} s, warm cache {r['warm']['compile_s']:.0f} s (first compiled step - "
        f"steady step: {r['cold']['first_step_minus_steady_s']:.0f} / {r['warm']['first_step_minus_steady_s']:.0f} s); "
        f"recompilations {r['cold']['recompilations']}, graph breaks {r['cold']['graph_breaks']} (lmforge_docs "
        f"attention eager); loss compiled vs eager, largest relative difference over the steps "
        f"{max(diffs, default=float('nan')):.4f} (dropout masks differ: inductor's RNG)"
    )
    targets = [("s/step eager / compiled", ">= 1.2x", speed, speed["median"] >= 1.2)]
    harness.save("compile", params, runs, summary, targets, note)
    print(json.dumps(summary, indent=1, default=str))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--max-seq-len", type=int, default=256)
    ap.add_argument("--train", type=int, default=160)
    ap.add_argument("--work", default="runs/bench/compile")
    a = ap.parse_args()
    bench_compile(a.model, a.steps, a.rows, a.max_seq_len, Path(a.work).resolve(), a.train)


if __name__ == "__main__":
    main()
