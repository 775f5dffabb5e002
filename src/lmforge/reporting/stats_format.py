"""Read stats.json in the layout `prepare` writes, and in the flat layout first agreed, into one shape.

The sections read only the shape returned by `normalise` (documented in docs/report.md):
    {"read", "kept", "rejected", "ok", "repaired", "steps": [{"name", "in", "out", "seconds", "reasons"}],
     "lengths": {"unit", "before": hist, "after": hist}, "word_freq": {"N", "top": [[w, count, f]]},
     "cooccurrence": {"window", "top": [[w1, w2, count]]}, "splits": {split: n}, "labels": {split: {label: n}},
     "augmented": {"generated", "kept", "rejected", "by_method": {method: {generated, kept, rejected}},
                   "reasons": {"step: reason": n}},
     "tools": {"records_with_tools", "records_with_calls", "records_answered_in_text", "calls", "results",
               "records_with_thinking", "calls_per_tool": {name: n}, "other_tools", "other_calls"}}
where a hist is {"bins": edges, "counts": [...]} or {"labels": ["0", "1-1", "2-3", ...], "counts": [...]}.
"""

from __future__ import annotations

from typing import Any


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def normalise(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """stats.json of either layout -> the canonical one; absent parts stay absent.

    >>> normalise({"accounting": {"read": 3, "kept": 2, "rejected": 1, "ok": True},
    ...            "steps": [{"step": "length", "in": 3, "out": 2, "time_s": 0.1, "reasons": {"short": 1}}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'read': 3, 'kept': 2, 'rejected': 1, 'ok': True, 'repaired': None,
     'steps': [{'name': 'length', 'in': 3, 'out': 2, 'seconds': 0.1, 'reasons': {'short': 1}}]}
    """
    if not stats:
        return None
    acc = _dict(stats.get("accounting"))
    out: dict[str, Any] = {key: stats.get(key, acc.get(key)) for key in ("read", "kept", "rejected")}
    out["ok"] = acc.get("ok")
    out["repaired"] = stats.get("encoding_repaired")
    out["steps"] = [
        {
            "name": s.get("name", s.get("step", "?")),
            "in": s.get("in"),
            "out": s.get("out"),
            "seconds": s.get("seconds", s.get("time_s")),
            "reasons": _dict(s.get("reasons")),
        }
        for s in stats.get("steps") or []
        if isinstance(s, dict)
    ]
    for key, value in (
        ("lengths", _lengths(stats)),
        ("word_freq", _words(_dict(stats.get("word_freq") or stats.get("word_frequencies")))),
        ("cooccurrence", _pairs(_dict(stats.get("cooccurrence")))),
        ("splits", _dict(stats.get("splits") or stats.get("split"))),
        ("labels", _dict(stats.get("labels"))),
        ("augmented", _dict(stats.get("augmented"))),  # data.augment's extra train records, as written
        ("tools", _dict(stats.get("tools"))),  # tool-calling records' counts (data.stats.merge_tool_counts)
    ):
        if value:
            out[key] = value
    return out


def _lengths(stats: dict[str, Any]) -> dict[str, Any] | None:
    """`lengths: {before: {bins, counts}}` as is; `length_chars_before: {"2-3": n}` as labelled bins."""
    if isinstance(stats.get("lengths"), dict):
        return stats["lengths"]
    hists = {name: _dict(stats.get(f"length_chars_{name}")) for name in ("before", "after")}
    if not any(hists.values()):
        return None
    labels = sorted({label for h in hists.values() for label in h}, key=_bin_start)
    out: dict[str, Any] = {"unit": "characters"}
    for name, h in hists.items():
        if h:
            out[name] = {"labels": labels, "counts": [h.get(label, 0) for label in labels]}
    return out


def _bin_start(label: str) -> float:
    """Order of a bin label: `"16-31"` -> 16.0; a label that is not a range goes last."""
    try:
        return float(str(label).split("-")[0])
    except ValueError:
        return float("inf")


def _words(freq: dict[str, Any]) -> dict[str, Any] | None:
    top = []
    for row in freq.get("top") or []:
        if isinstance(row, dict):
            top.append([row.get("word"), row.get("count"), row.get("f")])
        elif isinstance(row, (list, tuple)) and len(row) >= 2:
            top.append(list(row) + [None] * (3 - len(row)))
    return {"N": freq.get("N"), "top": top} if top else None


def _pairs(co: dict[str, Any]) -> dict[str, Any] | None:
    top = []
    for row in co.get("top") or []:
        if isinstance(row, dict) and isinstance(row.get("pair"), (list, tuple)) and len(row["pair"]) == 2:
            top.append([*row["pair"], row.get("count")])
        elif isinstance(row, (list, tuple)) and len(row) >= 3:
            top.append(list(row[:3]))
    return {"window": co.get("window"), "top": top} if top else None
