"""Which privacy unit each training example belongs to (`data.privacy_unit`, else its record).

The tokenised cache keeps no record ids, and one record may give several examples (a causal_lm document
longer than max_seq_len is chunked) or none (dropped): so the records are encoded again here, batch by
batch as the cache does, to count each record's examples. A chunked document stays one unit.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

from lmforge.errors import RunFailed, UserError

BATCH = 512


def example_keys(cfg: Any, tokenizer: Any, examples: list[dict[str, Any]], from_disk: bool) -> list[Hashable]:
    """One privacy-unit key per example: from train.jsonl's records, or (examples handed in) each example's
    `privacy_unit` value, else its index.

    >>> example_keys(cfg, tok, [{"input_ids": [1], "privacy_unit": "c7"}], from_disk=False)  # doctest: +SKIP
    ['c7']
    """
    if not from_disk:
        return [e.get("privacy_unit", i) for i, e in enumerate(examples)]
    from lmforge.formatting.token_cache import make_task, read_jsonl

    records = read_jsonl(Path(cfg.data.output_dir) / "train.jsonl")
    counts = _examples_per_record(make_task(cfg), records, tokenizer, cfg.train.max_seq_len)
    keys = [k for i, r in enumerate(records) for k in [_unit(cfg.data.privacy_unit, r, i)] * counts[i]]
    if len(keys) != len(examples):
        raise RunFailed(f"privacy units: {len(keys)} examples re-encoded, {len(examples)} in the cache")
    return keys


def _unit(field: str | None, record: dict[str, Any], index: int) -> Hashable:
    """The record's unit: its `field` at the top level, in meta or meta.extra; its index when no field."""
    if field is None:
        return index
    meta = record.get("meta") or {}
    for where in (record, meta, meta.get("extra") or {}):
        if field in where and where[field] is not None:
            value = where[field]
            return value if isinstance(value, Hashable) else repr(value)
    raise UserError(f"data.privacy_unit: record {record.get('id', index)} has no field {field!r}")


def _examples_per_record(task: Any, records: list[dict], tokenizer: Any, max_seq_len: int) -> list[int]:
    """How many examples each record gives, the way formatting/token_cache.py encodes them."""
    from lmforge.tasks.causal_lm import chunk

    counts: list[int] = []
    for i in range(0, len(records), BATCH):
        part = records[i : i + BATCH]
        if task.name == "causal_lm":  # documents are chunked, never truncated
            encoded, _ = task.encode_batch(part, tokenizer, 1 << 62)
            counts += [len(chunk(e, max_seq_len)) if e else 0 for e in encoded]
        else:
            encoded, _ = task.encode_batch(part, tokenizer, max_seq_len)
            counts += [0 if e is None else 1 for e in encoded]
    return counts
