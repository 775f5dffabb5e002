"""The Ray executor (`data.executor: ray`): the same stage jobs as the local executor, run as Ray tasks.

Each (stage, shard) job is `worker.run_job` unchanged, so a Ray run writes the same work files as a local
run. The global steps decide over the keys of the whole corpus, in input order, with the local executor's
`decide_stage`. near_dedup's decision is spread over Ray tasks: each task reads a subset of the LSH bands
from every shard's keys and returns the candidate pairs (global indices) that share a band; the candidate
pairs are then verified in chunks, one task per chunk (each re-reads the signatures and texts it needs);
this process merges the verified pairs, takes their connected components and keeps the earliest record
of each. These are NearDedup's own `candidates`, `similarity` and `reasons`, which a local run calls in one
process, so near-duplicates across shards on different nodes are found and the first occurrence is kept,
exactly as locally. exact_dedup (one 64-bit key per record) decides in this process. The result:
train/val/test and rejects byte-identical to a local run on the same input.

The work folder (`data.output_dir/.work`) is the hand-off between tasks, as in datatrove's Ray executor:
on a cluster, `data.output_dir` must be on a filesystem every node mounts at the same path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.data.executor import (
    Decide,
    check_step_errors,
    decide_in_process,
    decide_stage,
    fetcher,
    key_rows,
    load_keys,
)
from lmforge.data.steps import StepContext
from lmforge.data.steps.dedup import NearDedup, unique_pairs
from lmforge.data.worker import Job, is_done, run_job
from lmforge.errors import RunFailed, UserError

RunStages = Callable[
    [
        Callable[[int, list[Any], str | None, bool], list[Job]],
        list[list[Any]],
        str,
        int,
        StepContext,
        Callable[[str, int], Any],
    ],
    list[Any],
]


def ray_run_stages(ray_cfg: Any) -> RunStages:
    """A drop-in for `executor.run_stages` that runs the jobs on Ray (`ray_cfg` is `data.ray`).

    >>> run = ray_run_stages(cfg.data.ray)                                  # doctest: +SKIP
    >>> run(jobs_for, stages, work, workers=2, ctx=ctx, progress=bar)       # doctest: +SKIP
    [None, {'in': 120, 'out': 97, ...}]
    """

    def run(
        jobs_for: Callable[[int, list[Any], str | None, bool], list[Job]],
        stages: list[list[Any]],
        work: str,
        workers: int,
        ctx: StepContext,
        progress: Callable[[str, int], Any],
    ) -> list[Any]:
        ray, started = connect(ray_cfg, workers)
        try:
            return _run(ray, jobs_for, stages, work, ctx, progress)
        finally:
            if started:  # a Ray the caller had already started (a notebook, a Ray job) is left running
                ray.shutdown()

    return run


def connect(ray_cfg: Any, workers: int) -> tuple[Any, bool]:
    """Join the configured Ray, or start a local one; returns (ray module, whether we started it).

    >>> connect(RayConfig(address=None, num_cpus=2), workers=2)            # doctest: +SKIP
    (<module 'ray'>, True)
    """
    try:
        import ray
    except ImportError:
        raise UserError("data.executor: ray needs Ray installed: pip install 'lmforge[ray]'") from None
    if ray.is_initialized():
        return ray, False
    try:
        if ray_cfg.address:
            _reachable(ray_cfg.address)
            ray.init(address=ray_cfg.address, include_dashboard=False)
        else:
            ray.init(num_cpus=ray_cfg.num_cpus or workers, include_dashboard=False)
    except ConnectionError as e:  # no cluster at that address: a config problem, not a crash
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"data.ray.address: cannot reach Ray at {ray_cfg.address!r} ({first})") from None
    return ray, True


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a host:port nobody listens on (Ray itself retries for minutes); `auto` is left to Ray.

    >>> _reachable("127.0.0.1:1")                                           # doctest: +SKIP
    ConnectionError: nothing listens at 127.0.0.1:1
    """
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConnectionError(f"nothing listens at {host}:{port}: {e}") from None


def _run(
    ray: Any,
    jobs_for: Callable[[int, list[Any], str | None, bool], list[Job]],
    stages: list[list[Any]],
    work: str,
    ctx: StepContext,
    progress: Callable[[str, int], Any],
) -> list[Any]:
    """Stage by stage: all shards' jobs as Ray tasks, then the stage's global decision (if any) once."""
    # one CPU per job, as one process per shard locally; a job whose worker died is retried, and
    # run_job's per-process temporary names and .done marker make a retry safe
    task = ray.remote(num_cpus=1, max_retries=2)(run_job)
    global_stats: list[Any] = []
    prev_global = None
    for k, specs in enumerate(stages):
        # a relative data.output_dir is relative to this process's folder, which a worker node does not share
        jobs = [
            replace(j, work=os.path.abspath(j.work))
            for j in jobs_for(k, specs, prev_global, k == len(stages) - 1)
        ]
        todo = [j for j in jobs if not is_done(work, k, j.shard_index)]
        bar = progress(f"stage {k + 1}/{len(stages)} (ray)", len(jobs))
        bar.update(len(jobs) - len(todo))
        pending = [task.remote(j) for j in todo]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            _get(ray, ready, pending)
            bar.update(len(ready))
        bar.close()
        missing = [j.shard_index for j in jobs if not is_done(work, k, j.shard_index)]
        if missing:  # the tasks ran but wrote where this process cannot see
            raise RunFailed(
                f"stage {k + 1}: Ray tasks finished but shards {missing[:5]} have no results in "
                f"{work}; on a cluster, data.output_dir must be on a filesystem shared by all nodes"
            )
        check_step_errors(work, k, len(jobs))
        stats, name = decide_stage(work, k, len(jobs), specs, ctx, ray_decide(ray))
        global_stats.append(stats)
        prev_global = name or prev_global
    return global_stats


def _get(ray: Any, ready: list[Any], pending: list[Any]) -> None:
    """A job's result; a job that stopped the run (a step's bug, a bad option) raises its own one-line
    error here, not Ray's wrapper with the remote traceback, and the other jobs are cancelled."""
    try:
        ray.get(ready)
    except ray.exceptions.RayTaskError as e:
        for ref in pending:
            ray.cancel(ref)
        if isinstance(e.cause, (RunFailed, UserError)):
            raise e.cause from None
        raise


def ray_decide(ray: Any) -> Decide:
    """The global decision for `executor.decide_global`: near_dedup's spread over Ray tasks (one per CPU of
    the cluster), any other global step in this process."""

    def decide(step: Any, d: Path, n_shards: int, ids: list[str], offsets: list[int]) -> dict[int, str]:
        if not isinstance(step, NearDedup):
            return decide_in_process(step, d, n_shards, ids, offsets)
        d, tasks = d.resolve(), max(2, int(ray.cluster_resources().get("CPU", 1)))
        pairs, _ = near_candidates(ray, step, d, offsets, tasks)
        sims = near_similarity(ray, step, d, offsets, pairs, tasks)
        return step.reasons(
            pairs, sims, ids, lambda p: near_similarity(ray, step, d, offsets, p, tasks, floor=0.0)
        )

    return decide


def band_groups(bands: int, tasks: int) -> list[list[int]]:
    """Which LSH bands each task takes, round robin: `band_groups(5, 2)` -> [[0, 2, 4], [1, 3]]."""
    return [list(range(t, bands, tasks)) for t in range(min(tasks, bands))]


def near_candidates(
    ray: Any, step: NearDedup, d: Path, offsets: list[int], tasks: int
) -> tuple[np.ndarray, list[tuple[str, list[int]]]]:
    """(candidate pairs of the whole corpus, [(Ray task id, its bands)]): one task per band group;
    `offsets` as from `executor.shard_ids`."""
    task = ray.remote(num_cpus=1, max_retries=2)(_band_pairs)
    ref = ray.put(step)
    groups = band_groups(step.bands, tasks)
    done = ray.get([task.remote(ref, d, len(offsets) - 1, g) for g in groups])
    pairs = unique_pairs([p for _, _, p in done], offsets[-1])
    return pairs, [(t, b) for t, b, _ in done]


def _band_pairs(
    step: NearDedup, d: Path, n_shards: int, bands: list[int]
) -> tuple[str, list[int], np.ndarray]:
    """One Ray task: the pairs sharing one of `bands`; only those bands' columns are read from the shards."""
    import ray

    pairs = step.candidates(load_keys(d, n_shards, step.band_columns(bands)))
    return ray.get_runtime_context().get_task_id(), bands, pairs


def near_similarity(
    ray: Any,
    step: NearDedup,
    d: Path,
    offsets: list[int],
    pairs: np.ndarray,
    tasks: int,
    floor: float | None = None,
) -> np.ndarray:
    """NearDedup.similarity of the pairs, in `tasks` chunks run as Ray tasks, in order."""
    if not len(pairs):
        return np.empty(0)
    task = ray.remote(num_cpus=1, max_retries=2)(_pair_similarity)
    ref = ray.put(step)
    chunks = np.array_split(pairs, min(tasks, len(pairs)))
    return np.concatenate(ray.get([task.remote(ref, d, offsets, c, floor) for c in chunks]))


def _pair_similarity(
    step: NearDedup, d: Path, offsets: list[int], pairs: np.ndarray, floor: float | None
) -> np.ndarray:
    """One Ray task: the similarity of a chunk of pairs; it reads the signatures and texts it needs."""
    return step.similarity(pairs, lambda idx: key_rows(d, offsets, idx), fetcher(d, offsets, step), floor)
