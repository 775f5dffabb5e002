"""The shared harness: each (variant, repetition) runs in its own subprocess, variants interleaved.

One repetition runs every variant once, in an order rotated by the repetition number, so a slow minute on
this shared machine hits all variants alike. The parent polls the child's whole process tree (workers
included) with psutil for peak RSS; the child prints one JSON object (its own measurements) as its last
stdout line. Results: `bench/results/<name>.json`, and one row per benchmark appended to bench/RESULTS.md.

>>> summarize([3.0, 1.0, 2.0])
{'median': 2.0, 'min': 1.0, 'max': 3.0, 'n': 3}
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
RESULTS_MD = BENCH / "RESULTS.md"
RESULTS_DIR = BENCH / "results"  # the smoke test points both elsewhere
PACKAGES = (
    "lmforge",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "tokenizers",
    "datatrove",
    "datasketch",
    "rensa",
)


def summarize(values: list[float]) -> dict[str, float]:
    """Median and spread (min, max) of the repetitions."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def run_child(module: str, variant: str, params: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run `python -m bench.child MODULE VARIANT PARAMS`; returns its JSON plus wall_s and peak_rss_mb.

    A variant whose JSON has `trained_at` (its `time.time()` when training ended) also gets
    `train_peak_rss_mb`: the peak before that moment, so the bench's own scoring afterwards (a val loss
    through full logits) does not count as the training's memory.

    Smoke runs (`params["smoke"]`) call the variant in this process instead: no interpreter start and
    imports per run, so CI stays fast; their RSS is this process's, so it means nothing."""
    if params.get("smoke"):
        return _run_inline(module, variant, params)
    cmd = [sys.executable, "-m", "bench.child", module, variant, json.dumps(params)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(BENCH.parent)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=BENCH.parent
    )
    samples = _poll_rss(proc, t0 + timeout)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{module}:{variant} failed (exit {proc.returncode}):\n{err[-3000:]}")
    lines = [ln for ln in out.strip().splitlines() if ln.startswith("{")]
    res = json.loads(lines[-1])
    res["peak_rss_mb"] = max((r for _, r in samples), default=0) / 2**20
    if "trained_at" in res:
        res["train_peak_rss_mb"] = max((r for t, r in samples if t <= res["trained_at"]), default=0) / 2**20
    return {**res, "wall_s": wall}


def _run_inline(module: str, variant: str, params: dict[str, Any]) -> dict[str, Any]:
    import importlib

    t0 = time.perf_counter()
    res = importlib.import_module(f"bench.{module}").VARIANTS[variant](params)
    rss = _rss(psutil.Process()) / 2**20
    extra = {"train_peak_rss_mb": rss} if "trained_at" in res else {}
    return {**res, "wall_s": time.perf_counter() - t0, "peak_rss_mb": rss, **extra}


def _poll_rss(proc: subprocess.Popen, deadline: float) -> list[tuple[float, int]]:
    """(time.time(), summed RSS of the child and all its descendants), sampled every 50 ms."""
    root, samples = psutil.Process(proc.pid), []
    while proc.poll() is None:
        if time.perf_counter() > deadline:
            proc.kill()
            break
        try:
            procs = [root, *root.children(recursive=True)]
            samples.append((time.time(), sum(_rss(p) for p in procs)))
        except psutil.Error:
            pass
        time.sleep(0.05)
    return samples


def _rss(p: psutil.Process) -> int:
    try:
        return p.memory_info().rss
    except psutil.Error:
        return 0


def interleave(
    module: str, variants: list[str], params: dict[str, Any], reps: int, log: Callable[[str], None] = print
) -> dict[str, list[dict[str, Any]]]:
    """Every variant `reps` times, rotating the order each repetition: {variant: [result, ...]}."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for r in range(reps):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for v in order:
            res = run_child(module, v, params)
            runs[v].append(res)
            log(
                f"[{module}] rep {r + 1}/{reps} {v}: "
                + ", ".join(
                    f"{k}={val:.4g}" if isinstance(val, float) else f"{k}={val}"
                    for k, val in res.items()
                    if isinstance(val, (int, float)) and not isinstance(val, bool)
                )
            )
    return runs


def run_prepare(work: Path, name: str, data: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """`lmforge prepare` on a fresh `work` folder: exp.yaml with `data` (its output_dir is work/out),
    task causal_lm; returns (stats, seconds of the prepare call alone).

    Imports the data stage only (`lmforge.data.prepare`, the function `lmforge.prepare` names), not the
    package's public API, which loads torch: a data bench neither needs it nor waits for the torch lock."""
    import shutil

    import yaml

    from lmforge.data.prepare import prepare

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    exp = {"name": name, "task": {"type": "causal_lm"}, "data": {**data, "output_dir": str(work / "out")}}
    (work / "exp.yaml").write_text(yaml.safe_dump(exp))
    t0 = time.perf_counter()
    stats = prepare(str(work / "exp.yaml"), quiet=True)
    return stats, time.perf_counter() - t0


def paired_ratio(runs: dict[str, list[dict[str, Any]]], key: str, ours: str, theirs: str) -> dict[str, float]:
    """ours/theirs of `key` per repetition (each pair ran back to back), summarised."""
    return summarize([a[key] / b[key] for a, b in zip(runs[ours], runs[theirs], strict=True) if b[key]])


def versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "-"
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, load {os.getloadavg()[0]:.1f}"


def save(
    name: str,
    params: dict[str, Any],
    runs: dict[str, Any],
    summary: dict[str, Any],
    targets: list[tuple[str, str, dict[str, float], bool]],
    note: str = "",
    out_dir: Path | None = None,
) -> Path:
    """Write results/<name>.json and append one row to RESULTS.md.

    `targets`: (what, target text, measured ratio summary, met?)."""
    out_dir = out_dir or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    blob = {
        "benchmark": name,
        "date": stamp,
        "machine": machine(),
        "versions": versions(),
        "params": params,
        "summary": summary,
        "targets": [{"what": w, "target": t, "measured": m, "met": ok} for w, t, m, ok in targets],
        "runs": runs,
        "note": note,
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(blob, indent=1, default=str), encoding="utf-8")
    if not params.get("smoke"):
        append_row(name, stamp, blob, targets, note)
    return path


def fmt(s: dict[str, float], digits: int = 3) -> str:
    """`{'median': 2.0, 'min': 1.5, 'max': 2.5}` -> '2.00 [1.50-2.50]'"""
    return f"{s['median']:.{digits}g} [{s['min']:.{digits}g}-{s['max']:.{digits}g}]"


def append_row(name: str, stamp: str, blob: dict[str, Any], targets: list, note: str) -> None:
    if not RESULTS_MD.exists():
        RESULTS_MD.write_text(HEADER, encoding="utf-8")
    vers = ", ".join(f"{k} {v}" for k, v in blob["versions"].items() if v != "-")
    tgt = "; ".join(f"{w}: {fmt(m)} (target {t}: {'met' if ok else 'MISSED'})" for w, t, m, ok in targets)
    row = f"| {stamp} | {name} | {tgt or '-'} | {note} | {blob['machine']} | {vers} |\n"
    with RESULTS_MD.open("a", encoding="utf-8") as f:
        f.write(row)


def lora_config(dropout: float = 0.05) -> dict[str, Any]:
    """The benches' LoRA, as lmforge's `model.lora` (all linear layers, lmforge's default target).

    >>> lora_config()
    {'r': 16, 'alpha': 32, 'dropout': 0.05}
    """
    return {"r": 16, "alpha": 32, "dropout": dropout}


def peft_lora_config(dropout: float = 0.05) -> Any:
    """The same LoRA as peft's LoraConfig, for the HF Trainer, TRL and bare-loop baselines."""
    from peft import LoraConfig

    lora = lora_config(dropout)
    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


HEADER = """# lmforge benchmarks

`make bench` appends one row per benchmark. Ratios are lmforge / baseline (higher is better for
throughput), as median [min-max] over repetitions that ran interleaved with the baseline.

| date | benchmark | measured ratio (target) | notes | machine | versions |
|---|---|---|---|---|---|
"""
