"""Turn a run's files into the template's sections; a section with no data is None and left out."""

from __future__ import annotations

import json
import math
from typing import Any

from lmforge.reporting import plots
from lmforge.reporting.load import number

TOP_N = 20  # rows in the reasons / words / co-occurrence plots and tables
LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "general_kl")


def fmt(value: Any) -> str:
    """A number as a reader wants it: `1234 -> '1,234'`, `0.000123 -> '0.000123'`, `12.3456 -> '12.35'`."""
    x = number(value)
    if x is None:
        return "" if value is None else str(value)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def data_funnel(stats: dict[str, Any] | None, examples: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Records per step (the funnel), the steps' table and the reasons for removal.

    `stats` is in the shape of `stats_format.normalise`.
    """
    if not stats:
        return None
    steps = stats.get("steps") or []
    read, kept, rejected = (number(stats.get(k)) for k in ("read", "kept", "rejected"))
    if not steps and read is None:
        return None
    reasons = {
        f"{s['name']}: {r}": number(c) or 0 for s in steps for r, c in s["reasons"].items() if number(c)
    }
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:TOP_N]
    balanced = stats.get("ok")
    if balanced is None and None not in (read, kept, rejected):
        balanced = read == kept + rejected
    names, counts = funnel_bars(read, kept, steps)
    return {
        "read": fmt(read),
        "kept": fmt(kept),
        "rejected": fmt(rejected),
        "repaired": fmt(stats.get("repaired")) if number(stats.get("repaired")) else None,
        "balanced": balanced,
        "funnel_img": plots.funnel(names, counts) if len(names) > 1 else None,
        "rows": [_step_row(s) for s in steps],
        "reasons_img": plots.hbar([k for k, _ in top], [v for _, v in top], "records removed", plots.ORANGE)
        if top
        else None,
        "examples": [
            {"kind": k, "reason": str(r.get("reason", "")), "id": r.get("id", ""), "text": _snippet(r)}
            for k, r in examples.items()
        ],
        "augmented": augmented(stats.get("augmented")),
    }


def augmented(aug: dict[str, Any] | None) -> dict[str, Any] | None:
    """data.augment's block: records generated, kept (added to train) and rejected, per method and reason.

    They are counted apart from the sources, so read = kept + rejected above does not include them.
    >>> augmented({"generated": 4, "kept": 3, "rejected": 1, "by_method": {"eda": {"generated": 4,
    ...     "kept": 3, "rejected": 1}}, "reasons": {"augment/exact_dedup: exact duplicate": 1}})["rows"]
    [{'method': 'eda', 'generated': '4', 'kept': '3', 'rejected': '1', 'share': '75.0%'}]
    """
    if not isinstance(aug, dict) or number(aug.get("generated")) is None:
        return None
    rows = []
    for method, c in (aug.get("by_method") or {}).items():
        c = c if isinstance(c, dict) else {}
        made, kept = number(c.get("generated")), number(c.get("kept"))
        share = f"{kept / made:.1%}" if made and kept is not None else ""
        counts = {k: fmt(c.get(k)) for k in ("generated", "kept", "rejected")}
        rows.append({"method": str(method), **counts, "share": share})
    reasons = sorted((aug.get("reasons") or {}).items(), key=lambda kv: -(number(kv[1]) or 0))[:TOP_N]
    return {
        **{k: fmt(aug.get(k)) for k in ("generated", "kept", "rejected")},
        "rows": rows,
        "reasons": [{"reason": str(r), "count": fmt(n)} for r, n in reasons],
    }


def funnel_bars(read: float | None, kept: float | None, steps: list[dict[str, Any]]) -> tuple[list, list]:
    """Bar labels and heights: records read, left after each step, and finally kept (after the split).

    >>> funnel_bars(10.0, 7.0, [{"name": "read", "out": 9}, {"name": "dedup", "out": 8}])
    (['read', 'parsed', 'dedup', 'kept'], [10.0, 9.0, 8.0, 7.0])
    """
    first = read if read is not None else (number(steps[0].get("in")) if steps else None)
    names, counts = (["read"], [first]) if first is not None else ([], [])
    for s in steps:
        out = number(s.get("out"))
        if out is not None:
            # prepare's own "read" row counts records that parsed: label it so, not "read" twice
            names.append("parsed" if s["name"] == "read" else str(s["name"]))
            counts.append(out)
    if kept is not None and counts and kept != counts[-1]:
        names.append("kept")
        counts.append(kept)
    return names, counts


def _step_row(s: dict[str, Any]) -> dict[str, str]:
    n_in, n_out, seconds = number(s.get("in")), number(s.get("out")), number(s.get("seconds"))
    removed = n_in - n_out if n_in is not None and n_out is not None else None
    return {
        "name": str(s["name"]),
        "in": fmt(n_in),
        "out": fmt(n_out),
        "removed": fmt(removed),
        "share": f"{removed / n_in:.1%}" if removed is not None and n_in else "",
        "seconds": fmt(round(seconds, 2)) if seconds is not None else "",
        "reasons": ", ".join(f"{r} ({fmt(c)})" for r, c in s["reasons"].items()),
    }


def _snippet(reject: dict[str, Any], n: int = 240) -> str:
    """The rejected text: `text`, else `record.text`, else the raw record (a line that did not parse)."""
    record = reject.get("record")
    text = reject.get("text")
    if not isinstance(text, str) and isinstance(record, dict) and isinstance(record.get("text"), str):
        text = record["text"]
    if not isinstance(text, str):
        text = record if isinstance(record, str) else json.dumps(record or reject, ensure_ascii=False)
    return text if len(text) <= n else text[: n - 1] + "…"


def lengths(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """Length histograms before and after the steps (numeric bin edges or labelled bins)."""
    hist = (stats or {}).get("lengths")
    if not isinstance(hist, dict):
        return None
    series = {}
    for name in ("before", "after"):
        h = hist.get(name)
        bins = h.get("bins") or h.get("labels") if isinstance(h, dict) else None
        if bins and h.get("counts"):
            series[name] = (bins, h["counts"])
    if not series:
        return None
    return {"img": plots.histograms(series, f"length ({hist.get('unit', 'words')})")}


def words(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """Top words by frequency f(w) = count(w) / N, and the top co-occurring pairs."""
    freq, co = (stats or {}).get("word_freq") or {}, (stats or {}).get("cooccurrence") or {}
    top, pairs = (freq.get("top") or [])[:TOP_N], (co.get("top") or [])[:TOP_N]
    if not top and not pairs:
        return None
    return {
        "n": fmt(freq.get("N")),
        "window": fmt(co.get("window")),
        "img": plots.hbar([str(w[0]) for w in top], [number(w[1]) or 0 for w in top], "count")
        if top
        else None,
        "words": [{"word": w[0], "count": fmt(w[1]), "f": fmt(w[2])} for w in top],
        "pairs": [{"a": p[0], "b": p[1], "count": fmt(p[2])} for p in pairs],
    }


def tools(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """Tool use of the kept records: calls per tool (top TOP_N) and the counts of tool-calling records."""
    t = (stats or {}).get("tools") or {}
    per_tool = [(str(k), number(v) or 0) for k, v in _dict(t.get("calls_per_tool")).items()][:TOP_N]
    if not t or not (per_tool or number(t.get("records_with_tools"))):
        return None
    labels = (
        ("records_with_tools", "records that declare tools"),
        ("records_with_calls", "records with tool calls"),
        ("records_answered_in_text", "records offered tools, answered in text"),
        ("calls", "tool calls"),
        ("results", "tool results"),
        ("records_with_thinking", "records with thinking"),
        ("other_calls", "calls to the other tools"),
    )
    shown = [(k, what) for k, what in labels if number(t.get(k)) is not None]
    counts = [{"what": what, "n": fmt(t[k])} for k, what in shown if k != "other_calls" or number(t[k])]
    return {
        "counts": counts,
        "img": plots.hbar([k for k, _ in per_tool], [v for _, v in per_tool], "calls") if per_tool else None,
        "per_tool": [{"name": k, "n": fmt(v)} for k, v in per_tool],
        "other_tools": fmt(t.get("other_tools")) if number(t.get("other_tools")) else None,
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def splits(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """Split sizes and, for labelled data, the label balance of each split."""
    stats = stats or {}
    sizes = {k: v for k, v in (stats.get("splits") or {}).items() if number(v) is not None}
    labels = {k: v for k, v in (stats.get("labels") or {}).items() if isinstance(v, dict) and v}
    if not sizes and not labels:
        return None
    total = sum(number(v) or 0 for v in sizes.values())
    names = sorted({label for counts in labels.values() for label in counts}, key=str)
    groups = list(labels)
    series = {str(n): [number(labels[g].get(n)) or 0 for g in groups] for n in names}
    rows = []
    for g in groups:
        n_split = sum(number(v) or 0 for v in labels[g].values()) or 1
        rows.append(
            {
                "split": g,
                "cells": [
                    f"{fmt(labels[g].get(n, 0))} ({(number(labels[g].get(n)) or 0) / n_split:.0%})"
                    for n in names
                ],
            }
        )
    return {
        "sizes": [
            {"split": k, "n": fmt(v), "share": f"{(number(v) or 0) / total:.1%}" if total else ""}
            for k, v in sizes.items()
        ],
        "label_names": names,
        "label_rows": rows,
        "img": plots.grouped_bars(groups, series, "records") if labels else None,
    }
