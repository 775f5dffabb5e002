"""exact_dedup and near_dedup: global steps. Workers compute keys in parallel; one pass decides in input
order, so the first occurrence is kept and the reject names it: `near-duplicate of a.jsonl:17 (jaccard 0.86)`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import rensa

from lmforge.data.steps.base import GlobalStep

_PUNCT = re.compile(r"[^\w\s]+")


def normalize_for_dedup(text: str) -> str:
    """Lowercase, no punctuation, single spaces: `"Hi, 2 You!"` -> `"hi 2 you"`.

    Unlike datatrove, digits are kept: in fine-tuning data "total is 12" and "total is 15" differ."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


class ExactDedup(GlobalStep):
    """Keeps the first record of each group with the same normalised text (64-bit BLAKE2 hash)."""

    name = "exact_dedup"

    def __init__(self, normalize: bool = True, **kw) -> None:
        super().__init__(**kw)
        self.normalize = normalize

    def keys(self, texts: list[str]) -> np.ndarray:
        norm = normalize_for_dedup if self.normalize else (lambda t: t)
        out = np.empty((len(texts), 1), dtype=np.uint64)
        for i, t in enumerate(texts):
            out[i, 0] = int.from_bytes(hashlib.blake2b(norm(t).encode(), digest_size=8).digest(), "little")
        return out

    def decide(self, keys: np.ndarray, ids: list[str], fetch: Any = None) -> dict[int, str]:
        h = keys[:, 0]
        _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        keeper = first[inverse]  # index of the first record with the same hash
        return {
            int(i): f"exact duplicate of {ids[keeper[i]]}" for i in np.nonzero(keeper != np.arange(len(h)))[0]
        }


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) from datasketch's optimiser, weighting misses 9x over false candidates: every candidate
    pair is verified on its signatures, so a false candidate costs a comparison while a miss keeps a
    duplicate. threshold 0.8, 128 permutations -> (14, 9): 99.9% of pairs at jaccard 0.9 become candidates."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.1, 0.9)


class NearDedup(GlobalStep):
    """MinHash LSH over word n-grams (rensa's Rust MinHash), then every candidate pair is checked on the
    exact Jaccard of its shingle sets (`verify: exact`, the texts are fetched back from the stage files),
    or on the signatures' estimate (`verify: estimate`, nothing re-read). LSH bands aim below the
    threshold so that pairs just above it are not missed; the check removes the extra candidates."""

    name = "near_dedup"

    def __init__(
        self,
        threshold: float = 0.8,
        ngram: int = 5,
        num_perm: int = 128,
        verify: str = "exact",
        bands: int | None = None,
        rows: int | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        if verify not in ("exact", "estimate"):
            raise ValueError(f"verify must be exact or estimate, got {verify!r}")
        self.threshold, self.ngram, self.num_perm, self.verify = threshold, ngram, num_perm, verify
        # aim 0.2 below: at 0.8, 25 bands x 5 rows miss 1 pair in 20,000 at jaccard 0.8 (14 x 9 would miss 1 in 8)
        aim = max(threshold - 0.2, 0.3) if verify == "exact" else threshold
        self.bands, self.rows = (bands, rows) if bands and rows else lsh_params(aim, num_perm)

    def shingles(self, text: str) -> list[str]:
        """Word n-grams of the normalised text; a text shorter than n words is one shingle."""
        ws = normalize_for_dedup(text).split()
        n = self.ngram
        if len(ws) <= n:
            return [" ".join(ws)]
        return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]

    def keys(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        m = rensa.RMinHash.digest_matrix_from_token_sets(
            [self.shingles(t) for t in texts], self.num_perm, self.ctx.seed
        )
        return np.asarray(m.to_rows(), dtype=np.uint32)  # (n, num_perm)

    def candidates(self, keys: np.ndarray) -> np.ndarray:
        """(m, 2) pairs (earlier, later) that share at least one LSH band, each pair once."""
        n = len(keys)
        pairs = []
        for b in range(self.bands):
            band = keys[:, b * self.rows : (b + 1) * self.rows].astype(np.uint64)  # (n, rows)
            digest = (band * _MIX[: self.rows]).sum(axis=1)  # (n,) one 64-bit key per band; wraps on purpose
            order = np.argsort(digest, kind="stable")  # equal bands are adjacent, in input order
            same = digest[order[1:]] == digest[order[:-1]]
            new_run = np.concatenate([[True], ~same])  # (n,) True where a run of equal bands starts
            run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
            dup_pos = np.nonzero(~new_run)[0]
            # each later member of a run pairs with the run's earliest record
            pairs.append(np.stack([order[run_start[dup_pos]], order[dup_pos]], axis=1))
        if not pairs:
            return np.empty((0, 2), dtype=np.int64)
        return np.unique(np.concatenate(pairs), axis=0)

    def decide(self, keys: np.ndarray, ids: list[str], fetch: Any = None) -> dict[int, str]:
        """Global index -> reason. `fetch(indices) -> {index: text}` reads texts back for exact checks."""
        n = len(keys)
        pairs = self.candidates(keys) if n else np.empty((0, 2), dtype=np.int64)
        est = (keys[pairs[:, 0]] == keys[pairs[:, 1]]).mean(axis=1) if len(pairs) else np.empty(0)
        sim = self._similarity(keys, fetch, pairs, est)
        parent = np.arange(n)
        for (x, y), j in zip(pairs, sim(pairs, est), strict=True):
            if j >= self.threshold:
                _union(parent, int(x), int(y))
        roots = np.array([_find(parent, i) for i in range(n)], dtype=np.int64)
        dups = np.nonzero(roots != np.arange(n))[0]
        pair = np.stack([roots[dups], dups], axis=1) if len(dups) else np.empty((0, 2), dtype=np.int64)
        j = sim(pair, (keys[pair[:, 0]] == keys[pair[:, 1]]).mean(axis=1) if len(pair) else np.empty(0))
        return {
            int(i): f"near-duplicate of {ids[r]} (jaccard {s:.2f})" for (r, i), s in zip(pair, j, strict=True)
        }

    def _similarity(self, keys: np.ndarray, fetch: Any, pairs: np.ndarray, est: np.ndarray) -> Any:
        if self.verify == "estimate" or fetch is None:
            return lambda p, e: e
        # only pairs whose estimate is within reach of the threshold are re-read (4 sigma at 128 perms)
        near = pairs[est >= self.threshold - 0.15]
        texts = fetch(sorted({int(i) for i in near.ravel()}))
        sets: dict[int, set[str]] = {}

        def jaccard(a: int, b: int) -> float:
            for i in (a, b):
                if i not in sets:
                    sets[i] = set(self.shingles(texts[i])) if i in texts else set()
            inter = len(sets[a] & sets[b])
            return inter / max(len(sets[a] | sets[b]), 1)

        return lambda p, e: [
            jaccard(int(a), int(b)) if int(a) in texts and int(b) in texts else 0.0 for a, b in p
        ]


_MIX = np.random.default_rng(0).integers(1, 2**63, size=256, dtype=np.uint64) | np.uint64(1)


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return int(i)


def _union(parent: np.ndarray, a: int, b: int) -> Any:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:  # the earlier record stays the root, so it is the one kept
        parent[max(ra, rb)] = min(ra, rb)
