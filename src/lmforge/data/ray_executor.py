"""The Ray executor (`data.executor: ray`): the same stage jobs as the local executor, run as Ray tasks.

Each (stage, shard) job is `worker.run_job` unchanged, so a Ray run writes the same work files as a local
run, and the global steps (exact and near dedup) still decide once over the keys of the whole corpus, in
input order, with the local executor's `decide_stage`: near-duplicates across shards on different nodes
are found, and the first occurrence is the one kept, exactly as locally. The result: train/val/test and
rejects byte-identical to a local run on the same input.

The work folder (`data.output_dir/.work`) is the hand-off between tasks, as in datatrove's Ray executor:
on a cluster, `data.output_dir` must be on a filesystem every node mounts at the same path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lmforge.data.executor import decide_stage
from lmforge.data.steps import StepContext
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
            ray.get(ready)  # re-raises a job's error here
            bar.update(len(ready))
        bar.close()
        missing = [j.shard_index for j in jobs if not is_done(work, k, j.shard_index)]
        if missing:  # the tasks ran but wrote where this process cannot see
            raise RunFailed(
                f"stage {k + 1}: Ray tasks finished but shards {missing[:5]} have no results in "
                f"{work}; on a cluster, data.output_dir must be on a filesystem shared by all nodes"
            )
        stats, name = decide_stage(work, k, len(jobs), specs, ctx)
        global_stats.append(stats)
        prev_global = name or prev_global
    return global_stats
