"""One stage on one shard, in a worker process: read (or take the previous stage's survivors), run the
stage's steps batch by batch, write survivors, rejects and counters, then the completion marker.

Files of stage k, shard i, in the work folder: s{k}/{i}.kept.jsonl, .rejects.jsonl, .stats.json,
.keys.npy + .ids.json (when a dedup step ends the stage), .split.npy + .strata.json (last stage), .done.
Each is written to a temporary name and renamed, and .done comes last: a killed worker leaves no
half-file that a rerun would trust.

A step that raises `BadRecord` rejects the record with its message. Any other exception is a bug in the
step: the record is rejected as `error in step (...)`, its traceback appended to data.output_dir/errors.log,
and once a step has raised on more than MAX_STEP_ERRORS records the run stops (RunFailed, exit 1).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.atomic_files import atomic_write_text
from lmforge.data.readers import read_shard
from lmforge.data.record import Record, to_record
from lmforge.data.sources import Shard
from lmforge.data.split import split_hash, split_key
from lmforge.data.stats import TextStats, count_tools, length_bin, new_step_stats, reason_key
from lmforge.data.steps import BadRecord, GlobalStep, Step, StepContext, build_steps
from lmforge.errors import RunFailed

BATCH = 512  # records per batch: big enough for the vectorised steps, small enough to stream
# records a step may raise on (each a reject) before the run stops: a few can be a library's edge case,
# more is a bug that would otherwise silently reject the corpus
MAX_STEP_ERRORS = 10
# text per word-stats part: a shard of one big file (a JSON array) is counted as if cut into 8 MiB shards,
# so TextStats.result's arrays (several int64 per word) stay bounded
TEXT_PART_CHARS = 8 << 20


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
    pairs: bool = False  # data.pairs: SFT records made pairs after the split, placed by their prompt


_STEPS: dict[tuple[str, str, int, str], list[Step]] = {}  # built once per process, run and stage


def _steps(job: Job) -> list[Step]:
    fingerprint = Path(job.work) / "fingerprint"
    run = (job.work, fingerprint.read_text() if fingerprint.exists() else "")
    key = (*run, job.stage, json.dumps(job.specs, sort_keys=True, default=str))
    if key not in _STEPS:
        if any(k[:2] != run for k in _STEPS):  # another run (a notebook, a Ray worker): maybe other code
            _STEPS.clear()
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
        with open(self.d / f"{self.i}.{name}.{self.tmp}", "wb") as f:
            if isinstance(obj, np.ndarray):
                np.save(f, obj)
            else:
                f.write(json.dumps(obj, ensure_ascii=False).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    def commit(self, names: list[str]) -> None:
        """Fsynced, renamed into place, then the done marker: a crash leaves the shard done or redone."""
        for f in (self.kept, self.rejects):
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for name in ["kept.jsonl", "rejects.jsonl", *names]:
            os.replace(self.d / f"{self.i}.{name}.{self.tmp}", self.d / f"{self.i}.{name}")
        atomic_write_text(self.d / f"{self.i}.done", "ok")


def _input(job: Job, out: _Out, stats: dict[str, Any]) -> Iterator[Record]:
    """Stage 0 reads the source; later stages read the previous stage's survivors minus the dedup drops."""
    if job.stage == 0:
        src = job.source
        for rid, row, error, raw, repaired in read_shard(job.shard, src["unit"], src["encoding_errors"]):
            stats["read"] += 1
            stats["repaired"] += int(repaired)
            meta = {"source": job.shard.rel}
            rec = (
                to_record(rid, row, src["fields"], job.ctx.task, meta, job.ctx.conversation)
                if error is None
                else error
            )
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


def errors_log(work: str) -> Path:
    """Where step tracebacks go: data.output_dir/errors.log, next to the work folder."""
    return Path(work).parent / "errors.log"


def log_error(work: str, where: str, e: BaseException) -> None:
    """Append one traceback to errors.log (one write per entry: workers append to the same file)."""
    entry = f"--- {where} (pid {os.getpid()})\n" + "".join(traceback.format_exception(e))
    with open(errors_log(work), "a", encoding="utf-8", errors="backslashreplace") as f:
        f.write(entry)


def step_bug(label: str, detail: str, work: str) -> RunFailed:
    """The one line that stops a run whose step keeps raising.

    >>> str(step_bug("custom (bug.py:f)", "on 11 records, first ZeroDivisionError: division by zero", "o/.work"))
    "step 'custom (bug.py:f)' raised on 11 records, first ZeroDivisionError: division by zero: a bug ..."
    """
    return RunFailed(
        f"step '{label}' raised {detail}: a bug in the step, not bad data "
        f"(a step rejects a bad value by raising BadRecord); tracebacks in {errors_log(work)}"
    )


def summary(e: BaseException) -> str:
    """`ZeroDivisionError: division by zero`, cut at 200 characters."""
    return f"{type(e).__name__}: {str(e)[:200]}"


def _step_error(step: Step, rec: Record, e: Exception, st: dict[str, Any], job: Job) -> str:
    """Count and log an unexpected exception; the reject reason, or the run stops after too many."""
    st["errors"] += 1
    st.setdefault("first_error", f"{summary(e)} on {rec.id}")
    log_error(job.work, f"step '{step.label}' on record {rec.id}", e)
    if st["errors"] > MAX_STEP_ERRORS:
        raise too_many_errors(step.label, st["errors"], st["first_error"], job.work)
    return f"error in step ({summary(e)})"


def too_many_errors(label: str, n: int, first: str, work: str) -> RunFailed:
    return step_bug(label, f"on {n} records (more than {MAX_STEP_ERRORS}), first {first}", work)


def _run_step(step: Step, batch: list[Record], st: dict[str, Any], out: _Out, job: Job) -> list[Record]:
    t0 = time.perf_counter()
    st["in"] += len(batch)
    kept = []
    for rec in batch:
        before = rec.changes
        try:
            verdict = step.process(rec)
        except BadRecord as e:  # the step says the value is bad: a reject like any other
            verdict = (False, str(e) or "bad record")
        except Exception as e:  # a bug in the step: a few are rejects, more stop the run
            verdict = (False, _step_error(step, rec, e, st, job))
        if verdict is True or verdict is None or (isinstance(verdict, tuple) and verdict[0]):
            kept.append(rec)
            st["changed"] += rec.changes != before
            if isinstance(verdict, tuple) and len(verdict) > 1 and verdict[1]:
                st["notes"][verdict[1]] += 1  # a fixed phrase: counted as given
        else:
            reason = verdict[1] if isinstance(verdict, tuple) else "dropped"
            st["reasons"][reason_key(reason)] += 1
            out.reject(rec.id, step.name, reason, rec.original())
    st["out"] += len(kept)
    notes = getattr(step, "notes", None)  # a custom step may not call Step.__init__
    if notes:
        st["notes"].update(notes)
        notes.clear()
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


def _keys(step: GlobalStep, batch: list[Record], job: Job) -> np.ndarray:
    """A dedup step's keys for a batch; it sees texts only (with tools and calls), so an exception is the
    step's bug: stop."""
    try:
        return step.keys([r.dedup_text(step.on) for r in batch])
    except Exception as e:
        log_error(job.work, f"step '{step.label}' on a batch from {batch[0].id}", e)
        raise step_bug(step.label, f"{summary(e)} on a batch from {batch[0].id}", job.work) from None


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
        "tools": Counter(),  # tool use of the kept records (last stage): data.stats.count_tools
        "steps": [{**new_step_stats(), "errors": 0, "label": s.label} for s in local],
    }
    keys, ids, hashes, strata = [], [], [], []
    text_stats = TextStats() if job.last else None
    text_parts, part_chars = [], 0
    for batch in _batches(_input(job, out, stats)):
        for step, st in zip(local, stats["steps"], strict=True):
            batch = _run_step(step, batch, st, out, job)
        for rec in batch:
            out.kept.write(json.dumps(rec.to_work(), ensure_ascii=False) + "\n")
        if glob is not None and batch:
            t0 = time.perf_counter()
            keys.append(_keys(glob, batch, job))
            ids.extend(r.id for r in batch)
            stats["global_time_s"] = stats.get("global_time_s", 0.0) + time.perf_counter() - t0
        if text_stats is not None:
            for rec in batch:
                text = rec.text()
                text_stats.add(text)
                part_chars += len(text)
                stats["hist_after"][length_bin(len(text))] += 1
                count_tools(rec.fields, stats["tools"])
                hashes.append(
                    split_hash(job.ctx.seed, split_key(rec.id, rec.fields, job.ctx.task, job.pairs))
                )
                if job.stratify:
                    strata.append(rec.fields.get(job.stratify, rec.meta.get(job.stratify)))
            if part_chars >= TEXT_PART_CHARS:
                text_parts.append(text_stats.result(job.stats_top_k, job.stats_window))
                text_stats, part_chars = TextStats(), 0
    names = ["stats.json"]
    if glob is not None:
        out.save("keys.npy", np.concatenate(keys) if keys else np.empty((0, 1), dtype=np.uint64))
        out.save("ids.json", ids)
        names += ["keys.npy", "ids.json"]
    if text_stats is not None:
        stats["text"] = [*text_parts, text_stats.result(job.stats_top_k, job.stats_window)]
        out.save("split.npy", np.asarray(hashes, dtype=np.uint64))
        out.save("strata.json", strata)
        names += ["split.npy", "strata.json"]
    stats["rejects"] = out.n_rejects
    out.save("stats.json", stats)
    out.commit(names)
