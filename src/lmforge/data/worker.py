"""One stage on one shard, in a worker process: read (or take the previous stage's survivors), run the
stage's steps batch by batch, write survivors, rejects and counters, then the completion marker.

Files of stage k, shard i, in the work folder: s{k}/{i}.kept.jsonl, .rejects.jsonl, .stats.json,
.keys.npy + .ids.json (when a dedup step ends the stage), .split.npy + .strata.json (last stage), .done.
Each is written to a temporary name and renamed, and .done comes last: a killed worker leaves no
half-file that a rerun would trust.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.data.readers import read_shard
from lmforge.data.record import Record, to_record
from lmforge.data.sources import Shard
from lmforge.data.split import split_hash
from lmforge.data.stats import TextStats, length_bin, new_step_stats, reason_key
from lmforge.data.steps import GlobalStep, Step, StepContext, build_steps

BATCH = 512  # records per batch: big enough for the vectorised steps, small enough to stream


@dataclass
class Job:
    stage: int
    shard_index: int
    shard: Shard
    source: dict[str, Any]  # the SourceConfig as a dict (fields, unit, encoding_errors)
    work: str
    specs: list[Any]  # this stage's local steps, then (maybe) its global step last
    prev_global: str | None  # the global step whose decisions filter this stage's input
    last: bool
    ctx: StepContext
    stratify: str | None = None
    stats_top_k: int = 50
    stats_window: int = 5


_STEPS: dict[tuple[int, str], list[Step]] = {}  # built once per process and stage


def _steps(job: Job) -> list[Step]:
    key = (job.stage, json.dumps(job.specs, sort_keys=True, default=str))
    if key not in _STEPS:
        _STEPS[key] = build_steps(job.specs, job.ctx)
    return _STEPS[key]


def stage_dir(work: str, stage: int) -> Path:
    return Path(work) / f"s{stage}"


def is_done(work: str, stage: int, shard_index: int) -> bool:
    return (stage_dir(work, stage) / f"{shard_index}.done").exists()


class _Out:
    """The shard's output files, written under temporary names."""

    def __init__(self, d: Path, i: int) -> None:
        d.mkdir(parents=True, exist_ok=True)
        self.d, self.i = d, i
        self.tmp = f"tmp{os.getpid()}"  # per process: a stray worker of a killed run cannot clobber ours
        self.kept = open(d / f"{i}.kept.jsonl.{self.tmp}", "w", encoding="utf-8", errors="backslashreplace")
        self.rejects = open(
            d / f"{i}.rejects.jsonl.{self.tmp}", "w", encoding="utf-8", errors="backslashreplace"
        )
        self.n_rejects = 0

    def reject(self, rid: str, step: str, reason: str, record: Any) -> None:
        self.rejects.write(
            json.dumps(
                {"id": rid, "step": step, "reason": reason, "record": record}, ensure_ascii=False, default=str
            )
            + "\n"
        )
        self.n_rejects += 1

    def save(self, name: str, obj: Any) -> None:
        tmp = self.d / f"{self.i}.{name}.{self.tmp}"
        if isinstance(obj, np.ndarray):
            with open(tmp, "wb") as f:
                np.save(f, obj)
        else:
            tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")

    def commit(self, names: list[str]) -> None:
        self.kept.close()
        self.rejects.close()
        for name in ["kept.jsonl", "rejects.jsonl", *names]:
            os.replace(self.d / f"{self.i}.{name}.{self.tmp}", self.d / f"{self.i}.{name}")
        (self.d / f"{self.i}.done").write_text("ok")


def _input(job: Job, out: _Out, stats: dict[str, Any]) -> Iterator[Record]:
    """Stage 0 reads the source; later stages read the previous stage's survivors minus the dedup drops."""
    if job.stage == 0:
        src = job.source
        for rid, row, error, raw, repaired in read_shard(job.shard, src["unit"], src["encoding_errors"]):
            stats["read"] += 1
            stats["repaired"] += int(repaired)
            meta = {"source": job.shard.rel}
            rec = to_record(rid, row, src["fields"], job.ctx.task, meta) if error is None else error
            if isinstance(rec, str):
                out.reject(rid, "read", rec, row if raw is None else raw)
                stats["read_reasons"][reason_key(rec)] += 1
                continue
            if repaired:
                rec.meta["encoding_repaired"] = True
            stats["hist_before"][length_bin(len(rec.text()))] += 1
            yield rec
        return
    prev = stage_dir(job.work, job.stage - 1)
    drops = json.loads((prev / "decisions.json").read_text()).get(str(job.shard_index), {})
    with open(prev / f"{job.shard_index}.kept.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f):
            rec = Record.from_work(json.loads(line))
            if str(n) in drops:
                out.reject(rec.id, job.prev_global or "dedup", drops[str(n)], rec.original())
                continue
            yield rec


def _batches(it: Iterator[Record]) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for rec in it:
        batch.append(rec)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _run_step(step: Step, batch: list[Record], st: dict[str, Any], out: _Out) -> list[Record]:
    t0 = time.perf_counter()
    st["in"] += len(batch)
    kept = []
    for rec in batch:
        before = rec.changes
        try:
            verdict = step.process(rec)
        except Exception as e:  # one bad record must not sink the shard; the reason says what broke
            verdict = (False, f"error in step ({type(e).__name__}: {str(e)[:200]})")
        if verdict is True or verdict is None or (isinstance(verdict, tuple) and verdict[0]):
            kept.append(rec)
            st["changed"] += rec.changes != before
        else:
            reason = verdict[1] if isinstance(verdict, tuple) else "dropped"
            st["reasons"][reason_key(reason)] += 1
            out.reject(rec.id, step.name, reason, rec.original())
    st["out"] += len(kept)
    st["time_s"] += time.perf_counter() - t0
    return kept


def die_with_parent() -> None:
    """Pool initializer: on Linux, a worker gets SIGKILL when the main process dies (kill -9 included),
    instead of running on as an orphan next to the rerun."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_job(job: Job) -> None:
    """Run one stage on one shard; a shard already marked done is skipped (resume)."""
    if is_done(job.work, job.stage, job.shard_index):
        return
    steps = _steps(job)
    glob = steps[-1] if steps and isinstance(steps[-1], GlobalStep) else None
    local = steps[:-1] if glob else steps
    out = _Out(stage_dir(job.work, job.stage), job.shard_index)
    stats: dict[str, Any] = {
        "read": 0,
        "repaired": 0,
        "read_reasons": Counter(),
        "hist_before": Counter(),
        "hist_after": Counter(),
        "steps": [new_step_stats() for _ in local],
    }
    keys, ids, hashes, strata = [], [], [], []
    text_stats = TextStats() if job.last else None
    for batch in _batches(_input(job, out, stats)):
        for step, st in zip(local, stats["steps"], strict=True):
            batch = _run_step(step, batch, st, out)
        for rec in batch:
            out.kept.write(json.dumps(rec.to_work(), ensure_ascii=False) + "\n")
        if glob is not None and batch:
            t0 = time.perf_counter()
            keys.append(glob.keys([r.text(glob.on) for r in batch]))
            ids.extend(r.id for r in batch)
            stats["global_time_s"] = stats.get("global_time_s", 0.0) + time.perf_counter() - t0
        if text_stats is not None:
            for rec in batch:
                text = rec.text()
                text_stats.add(text)
                stats["hist_after"][length_bin(len(text))] += 1
                hashes.append(split_hash(job.ctx.seed, rec.id))
                if job.stratify:
                    strata.append(rec.fields.get(job.stratify, rec.meta.get(job.stratify)))
    names = ["stats.json"]
    if glob is not None:
        out.save("keys.npy", np.concatenate(keys) if keys else np.empty((0, 1), dtype=np.uint64))
        out.save("ids.json", ids)
        names += ["keys.npy", "ids.json"]
    if text_stats is not None:
        stats["text"] = text_stats.result(job.stats_top_k, job.stats_window)
        out.save("split.npy", np.asarray(hashes, dtype=np.uint64))
        out.save("strata.json", strata)
        names += ["split.npy", "strata.json"]
    stats["rejects"] = out.n_rejects
    out.save("stats.json", stats)
    out.commit(names)
