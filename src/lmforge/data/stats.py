"""Counters that workers fill per shard and the main process merges: per-step funnel, reasons, length
histograms, word frequencies and co-occurrence. Everything here is a plain dict so it travels as JSON."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W\d_]+")
COOC_STOP = frozenset(
    "the be to of and that have with a an in is it for on as at by or this was are from but not".split()
)


def reason_key(reason: str) -> str:
    """The countable part of a reason: `"near-duplicate of a.jsonl:3 (jaccard 0.91)"` -> `"near-duplicate"`."""
    return re.split(r" \(| of |: ", reason, maxsplit=1)[0]


def length_bin(n: int) -> int:
    """Power-of-two bucket: 0 -> 0, 1 -> 1, 2..3 -> 2, 4..7 -> 3, ..."""
    return int(n).bit_length()


def bin_label(b: int) -> str:
    return "0" if b == 0 else f"{1 << (b - 1)}-{(1 << b) - 1}"


def new_step_stats() -> dict[str, Any]:
    return {"in": 0, "out": 0, "changed": 0, "time_s": 0.0, "reasons": Counter()}


class TextStats:
    """Word counts and windowed co-occurrence over one shard's kept records, vectorised with numpy."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.ids: list[np.ndarray] = []  # per record: (n_words,) int32
        self.records = 0

    def add(self, text: str) -> None:
        vocab = self.vocab
        self.ids.append(
            np.fromiter(
                (vocab.setdefault(w, len(vocab)) for w in _WORD.findall(text.lower())), dtype=np.int64
            )
        )
        self.records += 1

    def result(self, top_k: int, window: int) -> dict[str, Any]:
        """{"records": N, "words": {w: count}, "pairs": {"a|b": count}} (pairs: the shard's top 20*top_k)."""
        words = list(self.vocab)
        if not self.ids:
            return {"records": self.records, "words": {}, "pairs": {}}
        flat = np.concatenate(self.ids)  # (T,)
        counts = np.bincount(flat, minlength=len(words))
        doc = np.repeat(np.arange(len(self.ids)), [len(x) for x in self.ids])  # (T,) record of each word
        stop = np.array([w in COOC_STOP or len(w) < 3 for w in words], dtype=bool)
        codes = []
        for d in range(1, window + 1):
            a, b = flat[:-d], flat[d:]
            ok = (doc[:-d] == doc[d:]) & ~stop[a] & ~stop[b] & (a != b)
            lo, hi = np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])
            codes.append(lo * len(words) + hi)
        code, n = np.unique(np.concatenate(codes), return_counts=True) if codes else ([], [])
        top = np.argsort(-np.asarray(n), kind="stable")[: 20 * top_k]
        pairs = {f"{words[code[i] // len(words)]}|{words[code[i] % len(words)]}": int(n[i]) for i in top}
        return {
            "records": self.records,
            "words": {w: int(c) for w, c in zip(words, counts, strict=True)},
            "pairs": pairs,
        }


def merge_text_stats(parts: list[dict[str, Any]], top_k: int, window: int) -> dict[str, Any]:
    """Sum shard results; f(w) = count(w) / N with N the number of kept records."""
    words: Counter = Counter()
    pairs: Counter = Counter()
    n = 0
    for p in parts:
        n += p["records"]
        words.update(p["words"])
        pairs.update(p["pairs"])
    top_words = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    top_pairs = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    return {
        "word_frequencies": {
            "N": n,
            "top": [{"word": w, "count": c, "f": round(c / max(n, 1), 6)} for w, c in top_words],
        },
        "cooccurrence": {"window": window, "top": [{"pair": p.split("|"), "count": c} for p, c in top_pairs]},
    }


def merge_histograms(parts: list[dict[str, int]]) -> dict[str, int]:
    """{"bin": count} summed, labelled by character range, in length order."""
    total: Counter = Counter()
    for p in parts:
        total.update({int(k): v for k, v in p.items()})
    return {bin_label(b): total[b] for b in sorted(total)}
