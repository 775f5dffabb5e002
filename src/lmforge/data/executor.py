"""The local executor: runs each stage over all shards in a process pool, then the stage's dedup decision
in the main process. Separate from the steps (datatrove's split), so a Ray executor can replace it.

Stages are cut at each global step: [fix_unicode, normalize, exact_dedup] [near_dedup] [pii] ->
stage 0 runs fix_unicode + normalize and hashes; main decides exact dups; stage 1 drops them and signs
MinHashes; main decides near dups; stage 2 drops them, runs pii, and computes the final stats.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.atomic_files import atomic_write_text
from lmforge.data.steps import STEPS, GlobalStep, StepContext, build_steps, parse_spec
from lmforge.data.worker import (
    MAX_STEP_ERRORS,
    Job,
    die_with_parent,
    is_done,
    log_error,
    run_job,
    stage_dir,
    step_bug,
    summary,
    too_many_errors,
)
from lmforge.errors import RunFailed, UserError


def plan_stages(specs: list[Any]) -> list[list[Any]]:
    """Cut the step list after each global step.

    >>> plan_stages(["normalize", "exact_dedup", "pii"])
    [['normalize', 'exact_dedup'], ['pii']]
    """
    stages: list[list[Any]] = [[]]
    for spec in specs:
        stages[-1].append(spec)
        if issubclass(STEPS[parse_spec(spec)[0]], GlobalStep):
            stages.append([])
    return stages


def _atomic_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False))  # fsynced, like every result file


Decide = Callable[[Any, Path, int, list[str], list[int]], dict[int, str]]


def decide_global(
    work: str, stage: int, n_shards: int, spec: Any, ctx: StepContext, decide: Decide | None = None
) -> dict[str, Any]:
    """Decide once over every shard's keys, in input order; store drops per shard (atomically).

    `decide(step, stage_folder, n_shards, ids, offsets) -> {global index: reason}` is `decide_in_process`
    unless an executor spreads the work (the Ray executor's near_dedup)."""
    d = stage_dir(work, stage)
    out = d / "decisions.json"
    if out.exists():
        return json.loads((d / "decisions.stats.json").read_text())
    t0 = time.perf_counter()
    step = build_steps([spec], ctx)[0]
    ids, offsets = shard_ids(d, n_shards)
    try:
        drops = (decide or decide_in_process)(step, d, n_shards, ids, offsets) if ids else {}
    except (UserError, RunFailed):
        raise
    except Exception as e:  # the decision sees keys and texts only: an exception is the step's bug
        log_error(work, f"step '{step.label}' deciding over {len(ids)} records", e)
        raise step_bug(step.label, f"{summary(e)} deciding over {len(ids)} records", work) from None
    per_shard: dict[str, dict[str, str]] = {}
    bounds = np.asarray(offsets)
    for g, reason in sorted(drops.items()):
        s = int(np.searchsorted(bounds, g, side="right") - 1)
        per_shard.setdefault(str(s), {})[str(g - offsets[s])] = reason
    from lmforge.data.stats import reason_key

    reasons: dict[str, int] = {}
    for r in drops.values():
        reasons[reason_key(r)] = reasons.get(reason_key(r), 0) + 1
    stats = {
        "in": len(ids),
        "out": len(ids) - len(drops),
        "time_s": time.perf_counter() - t0,
        "reasons": reasons,
    }
    _atomic_json(d / "decisions.stats.json", stats)
    _atomic_json(out, per_shard)  # written last: its presence marks the decision as done
    return stats


def decide_in_process(
    step: Any, d: Path, n_shards: int, ids: list[str], offsets: list[int]
) -> dict[int, str]:
    """The whole decision in this process: every shard's keys in memory, `step.decide` once."""
    return step.decide(load_keys(d, n_shards), ids, fetcher(d, offsets, step))


def shard_ids(d: Path, n_shards: int) -> tuple[list[str], list[int]]:
    """(ids of all records in input order, offsets): shard i holds global indices offsets[i]:offsets[i + 1]."""
    ids, offsets = [], [0]
    for i in range(n_shards):
        shard = json.loads((d / f"{i}.ids.json").read_text())
        ids.extend(shard)
        offsets.append(offsets[-1] + len(shard))
    return ids, offsets


def load_keys(d: Path, n_shards: int, columns: np.ndarray | None = None) -> np.ndarray:
    """Every shard's keys stacked in input order (n, k); only some `columns` of them if given, read
    through a memory map so that a task reading a few LSH bands does not load whole signatures."""
    parts = []
    for i in range(n_shards):
        k = np.load(d / f"{i}.keys.npy", mmap_mode="r")
        if len(k):  # an empty shard's keys have one column whatever the step
            parts.append(np.asarray(k if columns is None else k[:, columns]))
    return np.concatenate(parts)


def key_rows(d: Path, offsets: list[int], indices: np.ndarray) -> np.ndarray:
    """The keys of some records (sorted global indices), read from the shards that hold them."""
    bounds = np.asarray(offsets)
    shard = np.searchsorted(bounds, indices, side="right") - 1
    rows = []
    for s in np.unique(shard).tolist():
        k = np.load(d / f"{s}.keys.npy", mmap_mode="r")
        rows.append(np.asarray(k[indices[shard == s] - offsets[s]]))
    return np.concatenate(rows)


def fetcher(d: Path, offsets: list[int], step: Any) -> Callable[[list[int]], dict[int, str]]:
    """Read back the texts of some records (by global index) with one pass over the shards that hold them."""
    from lmforge.data.record import Record

    def fetch(indices: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        bounds = np.asarray(offsets)
        by_shard: dict[int, set[int]] = {}
        for g in indices:
            s = int(np.searchsorted(bounds, g, side="right") - 1)
            by_shard.setdefault(s, set()).add(g - offsets[s])
        for s, wanted in sorted(by_shard.items()):
            with open(d / f"{s}.kept.jsonl", encoding="utf-8") as f:
                for n, line in enumerate(f):
                    if n in wanted:
                        out[offsets[s] + n] = Record.from_work(json.loads(line)).dedup_text(step.on)
        return out

    return fetch


def check_step_errors(work: str, stage: int, n_shards: int) -> None:
    """After a stage: a step that raised on more than MAX_STEP_ERRORS records in all shards together stops
    the run (a shard stops on its own count; this catches errors spread over many shards)."""
    totals: dict[int, list[Any]] = {}
    for i in range(n_shards):
        shard = json.loads((stage_dir(work, stage) / f"{i}.stats.json").read_text())
        for j, st in enumerate(shard["steps"]):
            if st.get("errors"):
                totals.setdefault(j, [0, st["label"], st["first_error"]])[0] += st["errors"]
    for n, label, first in totals.values():
        if n > MAX_STEP_ERRORS:
            raise too_many_errors(label, n, first, work)


def decide_stage(
    work: str, k: int, n_jobs: int, specs: list[Any], ctx: StepContext, decide: Decide | None = None
) -> tuple[Any, str | None]:
    """After every shard of stage k: (stats, name) of its global step decided once over the whole corpus,
    in input order; (None, None) when the stage ends with no global step. `decide`: see decide_global."""
    last = specs[-1] if specs else None
    if last is None or not issubclass(STEPS[parse_spec(last)[0]], GlobalStep):
        return None, None
    return decide_global(work, k, n_jobs, last, ctx, decide), parse_spec(last)[0]


def run_stages(
    jobs_for: Callable[[int, list[Any], str | None, bool], list[Job]],
    stages: list[list[Any]],
    work: str,
    workers: int,
    ctx: StepContext,
    progress: Callable[[str, int], Any],
) -> list[Any]:
    """Run all stages; returns per stage the global decision stats (or None)."""
    global_stats: list[Any] = []
    pool = None
    try:
        prev_global = None
        for k, specs in enumerate(stages):
            jobs = jobs_for(k, specs, prev_global, k == len(stages) - 1)
            todo = [j for j in jobs if not is_done(work, k, j.shard_index)]
            bar = progress(f"stage {k + 1}/{len(stages)}", len(jobs))
            bar.update(len(jobs) - len(todo))
            if workers > 1 and len(todo) > 1:
                pool = pool or ProcessPoolExecutor(
                    max_workers=workers, mp_context=get_context("spawn"), initializer=die_with_parent
                )
                for _ in pool.map(run_job, todo):
                    bar.update(1)
            else:
                for job in todo:
                    run_job(job)
                    bar.update(1)
            bar.close()
            check_step_errors(work, k, len(jobs))
            stats, name = decide_stage(work, k, len(jobs), specs, ctx)
            global_stats.append(stats)
            prev_global = name or prev_global
    finally:
        if pool is not None:  # after a failed job, the shards not started are dropped, not run
            pool.shutdown(cancel_futures=True)
    return global_stats
