"""Augmented records go through the experiment's own steps, in config order, like the source did: filters
and rewrites record by record, then every dedup step over originals (all splits, first) + augmentations,
so a copy of a source record, of a val/test record, or of another augmentation is dropped with the
id it duplicates. Exact dedup always runs, even when the steps do not list it."""

from __future__ import annotations

from typing import Any

from lmforge.data.record import Record
from lmforge.data.steps import GlobalStep, StepContext, build_steps
from lmforge.data.steps.dedup import ExactDedup


def _verdict_ok(verdict: Any) -> bool:
    return verdict is True or verdict is None or (isinstance(verdict, tuple) and bool(verdict[0]))


def _record(row: dict[str, Any], extra: tuple[str, ...] = ()) -> Record:
    fields = {k: v for k, v in row.items() if k not in ("id", "meta", *extra)}
    return Record(id=row["id"], fields=fields, meta=dict(row.get("meta") or {}))


def run_steps(
    rows: list[dict[str, Any]],
    originals: list[dict[str, Any]],
    specs: list[Any],
    ctx: StepContext,
    extra: tuple[str, ...],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept rows, reject lines `{id, step, reason, record}`); `extra` are top-level keys steps must not see.

    >>> run_steps([{"id": "a#eda-0", "text": "hi", "meta": {}}], [{"id": "a", "text": "hi", "meta": {}}],
    ...           [], StepContext(), ())[1][0]["reason"]
    'exact duplicate of a'
    """
    steps = build_steps(specs, ctx)
    local = [s for s in steps if not isinstance(s, GlobalStep)]
    glob = [s for s in steps if isinstance(s, GlobalStep)]
    if not any(isinstance(s, ExactDedup) for s in glob):
        glob.append(ExactDedup(ctx=ctx))
    rejects: list[dict[str, Any]] = []
    alive: list[tuple[dict[str, Any], Record]] = []
    for row in rows:
        rec = _record(row, extra)
        reason = None
        for step in local:
            try:
                verdict = step.process(rec)
            except Exception as e:  # one bad record must not sink the run, as in the workers
                verdict = (False, f"error in step ({type(e).__name__}: {str(e)[:200]})")
            if not _verdict_ok(verdict):
                reason = (f"augment/{step.name}", verdict[1] if isinstance(verdict, tuple) else "dropped")
                break
        if reason:
            rejects.append({"id": row["id"], "step": reason[0], "reason": reason[1], "record": row})
        else:
            alive.append((row, rec))
    orig_recs = [_record(r) for r in originals]
    for step in glob:
        alive, dropped = _dedup(step, orig_recs, alive)
        rejects += dropped
    kept = [
        {"id": rec.id, **rec.fields, **{k: row[k] for k in extra}, "meta": rec.meta} for row, rec in alive
    ]
    return kept, rejects


def _dedup(step: GlobalStep, originals: list[Record], alive: list[tuple[dict[str, Any], Record]]) -> Any:
    recs = originals + [rec for _, rec in alive]
    texts = [r.text(step.on) for r in recs]
    ids = [r.id for r in recs]
    keys = step.keys(texts)
    drop = step.decide(keys, ids, lambda idx: {int(i): texts[int(i)] for i in idx})
    n0, kept, rejects = len(originals), [], []
    for j, (row, rec) in enumerate(alive):
        reason = drop.get(n0 + j)
        if reason is None:
            kept.append((row, rec))
        else:
            rejects.append({"id": row["id"], "step": f"augment/{step.name}", "reason": reason, "record": row})
    return kept, rejects
