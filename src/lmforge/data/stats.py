"""Counters that workers fill per shard and the main process merges: per-step funnel, reasons, length
histograms, word frequencies and co-occurrence. Everything here is a plain dict so it travels as JSON.

Words are the language's (words.py: Chinese, Japanese, Korean, Thai segmented; the script decides, as
the stats see only the text). Word counts are exact. Co-occurrence counts are exact per shard; each shard
sends its 20 x top_k most frequent pairs and the count of the first pair it left out (its `floor`), so
memory is bounded (20 x top_k pairs per shard) and every merged count has a proven error bound:
a pair's true count lies in [count, count + error], where error adds the floors of the shards that did
not list it (space-saving / Misra-Gries style merging); a pair listed nowhere has a count <= max_error,
and no pair outside the table a count above unlisted_max."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from lmforge.data.steps.lang_rules import STOP_WORDS as LANG_STOP_WORDS
from lmforge.data.words import MARKS, has_segments, split

_WORD = re.compile(rf"(?:[^\W\d_]|[{MARKS}])+")  # runs of letters (with their combining marks)
COOC_STOP = frozenset(
    "the be to of and that have with a an in is it for on as at by or this was are from but not".split()
) | frozenset(w for ws in LANG_STOP_WORDS.values() for w in ws)


def cooc_skip(word: str) -> bool:
    """Left out of co-occurrence: stop words, and words under 3 letters (under 2 for CJK and Thai,
    whose words are 1-2 characters): `cooc_skip("的")` -> True, `cooc_skip("电脑")` -> False."""
    return word in COOC_STOP or len(word) < (2 if has_segments(word) else 3)


_TURN = re.compile(r"turn \d+: ")  # a conversation's reason names the turn first (data/tool_calls.py)


def reason_key(reason: str) -> str:
    """The countable part of a reason: `"near-duplicate of a.jsonl:3 (jaccard 0.91)"` -> `"near-duplicate"`.

    A turn's reason keeps its words without the turn and the names it quotes:
    >>> reason_key("turn 1: call to tool 'x', which the record does not declare (declared: f)")
    "call to tool '…', which the record does not declare"
    """
    if _TURN.match(reason):
        return re.split(
            r" \(|: ", re.sub(r"'[^']*'", "'…'", reason[_TURN.match(reason).end() :]), maxsplit=1
        )[0]
    return re.split(r" \(| of |: ", reason, maxsplit=1)[0]


def length_bin(n: int) -> int:
    """Power-of-two bucket: 0 -> 0, 1 -> 1, 2..3 -> 2, 4..7 -> 3, ..."""
    return int(n).bit_length()


def bin_label(b: int) -> str:
    return "0" if b == 0 else f"{1 << (b - 1)}-{(1 << b) - 1}"


def new_step_stats() -> dict[str, Any]:
    # notes: records kept with a remark (`not judged: shorter than 50 words`, `normalize: code left as is`)
    return {"in": 0, "out": 0, "changed": 0, "time_s": 0.0, "reasons": Counter(), "notes": Counter()}


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
                (vocab.setdefault(w, len(vocab)) for w in split(text.lower(), _WORD.findall)), dtype=np.int64
            )
        )
        self.records += 1

    def result(self, top_k: int, window: int) -> dict[str, Any]:
        """{"records": N, "words": {w: count}, "pairs": {"a|b": count}, "pairs_floor": c}: the shard's
        20 * top_k most frequent pairs, and the count of the first one left out (0: all pairs are listed)."""
        words = list(self.vocab)
        if not self.ids:
            return {"records": self.records, "words": {}, "pairs": {}, "pairs_floor": 0}
        flat = np.concatenate(self.ids)  # (T,)
        counts = np.bincount(flat, minlength=len(words))
        doc = np.repeat(np.arange(len(self.ids)), [len(x) for x in self.ids])  # (T,) record of each word
        stop = np.array([cooc_skip(w) for w in words], dtype=bool)
        codes = []
        for d in range(1, window + 1):
            a, b = flat[:-d], flat[d:]
            ok = (doc[:-d] == doc[d:]) & ~stop[a] & ~stop[b] & (a != b)
            lo, hi = np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])
            codes.append(lo * len(words) + hi)
        code, n = np.unique(np.concatenate(codes), return_counts=True) if codes else ([], [])
        order = np.argsort(-np.asarray(n), kind="stable")
        top, rest = order[: 20 * top_k], order[20 * top_k :]
        # each pair in word order, not id order: ids differ per shard, and the merge adds pairs by key
        pairs = {
            "|".join(sorted((words[code[i] // len(words)], words[code[i] % len(words)]))): int(n[i])
            for i in top
        }
        return {
            "records": self.records,
            "words": {w: int(c) for w, c in zip(words, counts, strict=True)},
            "pairs": pairs,
            "pairs_floor": int(n[rest[0]]) if len(rest) else 0,
        }


def merge_text_stats(parts: list[dict[str, Any]], top_k: int, window: int) -> dict[str, Any]:
    """Sum shard results; f(w) = count(w) / N with N the number of kept records. Co-occurrence: see the
    module docstring; `exact` says every listed count is exact and the list is the true top-k."""
    words: Counter = Counter()
    n = 0
    for p in parts:
        n += p["records"]
        words.update(p["words"])
    top_words = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    return {
        "word_frequencies": {
            "N": n,
            "top": [{"word": w, "count": c, "f": round(c / max(n, 1), 6)} for w, c in top_words],
        },
        "cooccurrence": {"window": window, **merge_pairs(parts, top_k)},
    }


def merge_pairs(parts: list[dict[str, Any]], top_k: int) -> dict[str, Any]:
    """The top_k pairs by merged count, with their error bounds.

    >>> a = {"pairs": {"x|y": 5, "u|v": 4}, "pairs_floor": 3}   # a shard that left out pairs of <= 3
    >>> merge_pairs([a, {"pairs": {"u|v": 2}, "pairs_floor": 0}], 2)["top"]
    [{'pair': ['u', 'v'], 'count': 6}, {'pair': ['x', 'y'], 'count': 5}]
    """
    lower: Counter = Counter()
    covered: Counter = Counter()  # floors of the shards that listed the pair
    max_error = sum(p.get("pairs_floor", 0) for p in parts)
    for p in parts:
        lower.update(p["pairs"])
        for pair in p["pairs"]:
            covered[pair] += p.get("pairs_floor", 0)
    ranked = sorted(lower.items(), key=lambda kv: (-kv[1], kv[0]))
    top = []
    for pair, c in ranked[:top_k]:
        row: dict[str, Any] = {"pair": pair.split("|"), "count": c}
        if max_error - covered[pair]:
            row["error"] = max_error - covered[pair]  # the true count is in [count, count + error]
        top.append(row)
    # no pair outside the table occurs more often than this (its upper bound, or max_error if listed nowhere);
    # the table is the true top-k, with exact counts, when its last count reaches it
    unlisted = max([c + max_error - covered[p] for p, c in ranked[top_k:]] + [max_error])
    exact = all("error" not in r for r in top) and (not top or top[-1]["count"] >= unlisted)
    return {"top": top, "exact": exact, "max_error": max_error, "unlisted_max": unlisted}


def merge_histograms(parts: list[dict[str, int]]) -> dict[str, int]:
    """{"bin": count} summed, labelled by character range, in length order."""
    total: Counter = Counter()
    for p in parts:
        total.update({int(k): v for k, v in p.items()})
    return {bin_label(b): total[b] for b in sorted(total)}


TOP_TOOLS = 20  # tools listed by name in stats.json's calls_per_tool; the rest are summed as "other"


def count_tools(fields: dict[str, Any], counts: Counter) -> None:
    """Add one kept record's tool use to `counts` (flat keys, so shards merge by adding).

    >>> c = Counter()
    >>> count_tools({"tools": [{"function": {"name": "f"}}], "messages": [{"role": "user", "content": "?"},
    ...     {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f"}}]},
    ...     {"role": "tool", "content": "1"}, {"role": "assistant", "content": "1", "reasoning_content": "r"}]}, c)
    >>> dict(c)
    {'records_with_tools': 1, 'records_with_calls': 1, 'calls': 1, 'call:f': 1, 'results': 1, 'records_with_thinking': 1}
    """
    turns = fields.get("messages")
    turns = turns if isinstance(turns, list) else []
    calls = [c for t in turns if isinstance(t, dict) for c in t.get("tool_calls") or []]
    if fields.get("tools"):
        counts["records_with_tools"] += 1
        if not calls:
            counts["records_answered_in_text"] += 1  # tools offered, none called: BFCL's "irrelevance"
    if calls:
        counts["records_with_calls"] += 1
        counts["calls"] += len(calls)
        for call in calls:
            name = (call.get("function") or call).get("name") if isinstance(call, dict) else None
            counts[f"call:{name}"] += 1
    results = sum(1 for t in turns if isinstance(t, dict) and t.get("role") == "tool")
    if results:
        counts["results"] += results
    if any(isinstance(t, dict) and t.get("reasoning_content") for t in turns):
        counts["records_with_thinking"] += 1


def merge_tool_counts(parts: list[dict[str, int]]) -> dict[str, Any] | None:
    """Shards' `count_tools` counters as stats.json's `tools` block; None when no record uses tools.

    >>> merge_tool_counts([{"records_with_calls": 1, "calls": 2, "call:f": 2}, {"calls": 1, "call:g": 1}])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'records_with_tools': 0, 'records_with_calls': 1, 'records_answered_in_text': 0, 'calls': 3, 'results': 0,
     'records_with_thinking': 0, 'calls_per_tool': {'f': 2, 'g': 1}, 'other_tools': 0, 'other_calls': 0}
    """
    total: Counter = Counter()
    for p in parts:
        total.update(p)
    if not total:
        return None
    per_tool = sorted(
        ((k[5:], v) for k, v in total.items() if k.startswith("call:")), key=lambda kv: (-kv[1], kv[0])
    )
    keys = ("records_with_tools", "records_with_calls", "records_answered_in_text", "calls", "results")
    return {
        **{k: total[k] for k in (*keys, "records_with_thinking")},
        "calls_per_tool": dict(per_tool[:TOP_TOOLS]),
        "other_tools": len(per_tool[TOP_TOOLS:]),
        "other_calls": sum(v for _, v in per_tool[TOP_TOOLS:]),
    }
