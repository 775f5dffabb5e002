"""Peak memory of `lmforge prepare` on one big JSON array of chats (a ChatGPT-style export, cut off).

A seeded generator writes a `--mb` MB array of conversations (`messages` lists of user/assistant turns:
questions, prose answers, code blocks, lists), cut inside its last element like a partial download. The
CLI runs it with data.workers at its default and at 2; the parent samples the RSS of the CLI process and
of each worker from /proc every 50 ms (psutil) and reports the largest of any one process. Target: every
process < 1 GB on 125 MB (issue #28).

    python -m bench.json_memory --mb 125
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

import psutil

from bench import harness

LIMIT_MB = 1024  # the bound docs/prepare.md states, per process
STEPS = ["normalize", {"length": {"min_chars": 20}}, "exact_dedup", "near_dedup"]
WORDS = (
    "the a model data train loss token batch file error python function value list config run step "
    "learning rate memory process output input user answer question example result test split record "
    "because when which would could should not only also then each every other first last"
).split()
TOPICS = ["pandas", "docker", "a cover letter", "sourdough", "git rebase", "a trip to Kyoto", "SQL joins"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 22))]
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def _answer(rng: random.Random) -> str:
    parts = [" ".join(_sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.3:
        body = "\n".join(f"    {rng.choice(WORDS)} = {rng.randint(0, 99)}" for _ in range(rng.randint(2, 12)))
        parts.append(f"```python\ndef {rng.choice(WORDS)}():\n{body}\n```")
    if rng.random() < 0.3:
        parts.append("\n".join(f"{i + 1}. {_sentence(rng)}" for i in range(rng.randint(2, 6))))
    return "\n\n".join(parts)


def conversation(rng: random.Random, i: int) -> dict[str, Any]:
    """One chat as an export holds it: id, title, times, and the turns."""
    messages = []
    for _ in range(rng.randint(1, 6)):
        q = f"About {rng.choice(TOPICS)}: " + " ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": _answer(rng)}]
    t = 1_700_000_000 + i * 97
    return {
        "id": f"conv-{i:07d}",
        "title": messages[0]["content"][:40],
        "create_time": t,
        "messages": messages,
    }


def make_export(path: Path, mb: float, seed: int = 0) -> int:
    """Write the array to `path` (once per size and seed), cut inside its last element; returns bytes."""
    want = int(mb * 2**20)
    if path.exists() and path.stat().st_size == want:
        return want
    rng, size, i = random.Random(seed), 2, 0
    with open(path, "wb") as f:
        f.write(b"[\n")
        while size < want:
            el = (b",\n" if i else b"") + json.dumps(conversation(rng, i), ensure_ascii=False).encode()
            f.write(el)
            size, i = size + len(el), i + 1
        f.truncate(want)  # a partial download: the last element is cut off
    return want


def measure(cmd: list[str], cwd: Path, timeout: float = 3600) -> dict[str, Any]:
    """Run `cmd`; peak RSS (MB) of the main process and of the busiest worker, sampled every 50 ms, and
    the largest ru_maxrss of any waited-for descendant (a check on the sampling)."""
    import resource

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root, peaks = psutil.Process(proc.pid), {}
    while proc.poll() is None and time.perf_counter() - t0 < timeout:
        try:
            for p in [root, *root.children(recursive=True)]:
                peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed (exit {proc.returncode}):\n{err[-3000:]}")
    workers = [v for pid, v in peaks.items() if pid != proc.pid]
    return {
        "seconds": time.perf_counter() - t0,
        "main_peak_mb": peaks.get(proc.pid, 0) / 2**20,
        "worker_peak_mb": max(workers, default=0) / 2**20,
        "workers_seen": len(workers),
        "maxrss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_prepare(p: dict[str, Any]) -> dict[str, Any]:
    import yaml

    work = Path(p["work"]) / f"w{p['workers']}"
    work.mkdir(parents=True, exist_ok=True)
    exp = {
        "name": "json-memory",
        "task": {"type": "sft"},
        "data": {
            "sources": [{"path": p["export"]}],
            "steps": STEPS,
            "output_dir": str(work / "out"),
            "workers": p["workers"],
        },
    }
    (work / "exp.yaml").write_text(yaml.safe_dump(exp))
    cli = str(Path(sys.executable).with_name("lmforge"))
    res = measure([cli, "prepare", str(work / "exp.yaml")], work)
    stats = json.loads((work / "out" / "stats.json").read_text())
    return {**res, "read": stats["read"], "kept": stats["accounting"]["kept"], "workers": stats["workers"]}


def bench_json_memory(mb: float, work: Path, smoke: bool = False) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    export = work / f"export-{mb:g}mb.json"
    make_export(export, mb)
    runs = {}
    for workers in (None, 2):
        res = run_prepare({"work": str(work), "export": str(export), "workers": workers})
        runs["default" if workers is None else str(workers)] = res
        print(f"[json_memory] workers={workers}: {res}", flush=True)
    worst = max(max(r["main_peak_mb"], r["worker_peak_mb"]) for r in runs.values())
    ratio = {"median": worst, "min": worst, "max": worst}
    note = (
        f"{mb:g} MB JSON array of chats (cut off), steps {[s if isinstance(s, str) else next(iter(s)) for s in STEPS]}; "
        + "; ".join(
            f"workers {k} ({r['workers']}): main {r['main_peak_mb']:.0f} MB, worker {r['worker_peak_mb']:.0f} MB, "
            f"{r['seconds']:.0f}s, read {r['read']}, kept {r['kept']}"
            for k, r in runs.items()
        )
    )
    params = {"mb": mb, "smoke": smoke}
    harness.save(
        "json_memory",
        params,
        runs,
        runs,
        [("peak RSS MB of any one process", f"< {LIMIT_MB}", ratio, worst < LIMIT_MB)],
        note,
    )
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=125)
    ap.add_argument("--work", default="/tmp/lmforge-bench/json_memory", help="where the export and runs go")
    a = ap.parse_args()
    print(json.dumps(bench_json_memory(a.mb, Path(a.work).resolve()), indent=1, default=str))


if __name__ == "__main__":
    main()
