"""Deterministic train/val/test split: each record's place comes from a hash of (seed, key), never from
the order of arrival, the worker count or the machine. Sizes are ratios or counts; strata split alone.

The key is the record's id, except where records come in groups that must share a split: the pairs of one
prompt (preference records, and SFT records that data.pairs turns into pairs) share their prompt as key,
so one hash; every record of a hash goes where its first record (in input order) goes, whatever its
stratum and wherever a split's size boundary falls."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import numpy as np

from lmforge.data.pairs import to_pair
from lmforge.data.preference import group_key
from lmforge.errors import UserError

NAMES = ("train", "val", "test")
UNUSED = 3  # a record beyond the requested counts


def split_key(rid: str, fields: dict[str, Any], task: str, pairs: bool = False) -> str:
    """What places a record in a split: its id; its prompt for preference records, and for SFT records
    when data.pairs makes them pairs (a prompt seen in train with other answers would flatter the test).

    >>> split_key("a.jsonl:1", {"prompt": "Hi", "response": "Hello"}, "sft", pairs=True)
    'prompt:"Hi"'
    """
    if task in ("preference", "rl"):  # one prompt, one split
        return group_key(fields)
    if pairs:
        try:
            pair = to_pair(fields)
        except (KeyError, TypeError, AttributeError):  # not an SFT shape: data.pairs rejects it later
            return rid
        return group_key(pair) if isinstance(pair, dict) else rid
    return rid


def split_hash(seed: int, rid: str) -> int:
    """64-bit hash of the id under the seed: the record's place in the shuffled order."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{rid}".encode(), digest_size=8).digest(), "little")


def sizes(n: int, split: dict[str, float]) -> tuple[int, int, int]:
    """Records per split out of n: ratios (sum 1) or counts.

    >>> sizes(10, {"train": 0.8, "val": 0.1, "test": 0.1})
    (8, 1, 1)
    >>> sizes(10, {"train": 5, "val": 2, "test": 1})
    (5, 2, 1)
    """
    vals = [float(split[k]) for k in NAMES]
    if any(v < 0 for v in vals):
        raise UserError(f"data.split: sizes must be >= 0, got {dict(zip(NAMES, vals, strict=True))}")
    if sum(vals) <= 1.0 + 1e-9:  # ratios
        if abs(sum(vals) - 1.0) > 1e-6:
            raise UserError(f"data.split: ratios must sum to 1 (got {sum(vals):.3f}) or be record counts")
        val, test = round(n * vals[1]), round(n * vals[2])
        val, test = min(val, n), min(test, n - min(val, n))
        return n - val - test, val, test
    return _counts(n, [int(v) for v in vals])


def _counts(n: int, want: list[int]) -> tuple[int, int, int]:
    test = min(want[2], n)
    val = min(want[1], n - test)
    return min(want[0], n - test - val), val, test


def assign(hashes: np.ndarray, strata: list[Any] | None, split: dict[str, float]) -> np.ndarray:
    """(n,) uint64 hashes -> (n,) int8 split index (0 train, 1 val, 2 test, 3 unused).

    Within each stratum records are ordered by hash; the first go to test, then val, then train, so
    the sizes are exact and stratified; a stratum's share of counts is proportional to its size. Records
    of one hash (one prompt's pairs) then all go where the first of them goes: sizes move by a group.

    >>> assign(np.array([5, 7, 7, 9], np.uint64), None, {"train": 0.5, "val": 0.0, "test": 0.5}).tolist()
    [2, 2, 2, 0]
    """
    n = len(hashes)
    out = np.full(n, UNUSED, dtype=np.int8)
    groups: dict[Any, list[int]] = defaultdict(list)
    for i in range(n):
        groups[_key(strata[i]) if strata is not None else None].append(i)
    counts = sum(float(split[k]) for k in NAMES) > 1.0 + 1e-9
    for _, idx in sorted(groups.items(), key=lambda kv: str(kv[0])):
        members = np.asarray(idx)
        members = members[np.argsort(hashes[members], kind="stable")]
        if counts:  # a stratum gets its share of each count
            tr, va, te = _counts(len(members), [round(float(split[k]) * len(members) / n) for k in NAMES])
        else:
            tr, va, te = sizes(len(members), split)
        out[members[:te]] = 2
        out[members[te : te + va]] = 1
        out[members[te + va : te + va + tr]] = 0
    return _by_group(hashes, out)


def _by_group(hashes: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Every record takes the split of the first record (in input order) with its hash."""
    order = np.argsort(hashes, kind="stable")  # (n,) equal hashes stay in input order
    h = hashes[order]
    first = np.searchsorted(h, h, side="left")  # (n,) position of each group's first record
    out[order] = out[order][first]
    return out


def _key(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
