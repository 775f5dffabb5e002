"""Turn a run's files into the template's sections; a section with no data is None and left out."""

from __future__ import annotations

import json
import math
from typing import Any

from lmforge.report import plots
from lmforge.report.load import number

TOP_N = 20  # rows in the reasons / words / co-occurrence plots and tables
LOWER_IS_BETTER = ("loss", "perplexity", "ppl")


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
    """Records per step (the funnel), the steps' table and the reasons for removal."""
    if not stats:
        return None
    steps = [s for s in stats.get("steps") or [] if isinstance(s, dict)]
    read, kept, rejected = (number(stats.get(k)) for k in ("read", "kept", "rejected"))
    if not steps and read is None:
        return None
    names, counts = ["read"], [read if read is not None else number(steps[0].get("in")) or 0]
    for s in steps:
        out = number(s.get("out"))
        if out is not None:
            names.append(str(s.get("name", "?")))
            counts.append(out)
    rows = []
    reasons: dict[str, float] = {}
    for s in steps:
        n_in, n_out = number(s.get("in")), number(s.get("out"))
        removed = n_in - n_out if n_in is not None and n_out is not None else None
        step_reasons = s.get("reasons") if isinstance(s.get("reasons"), dict) else {}
        for reason, count in step_reasons.items():
            if number(count):
                reasons[f"{s.get('name', '?')}: {reason}"] = number(count) or 0
        rows.append(
            {
                "name": s.get("name", "?"),
                "in": fmt(n_in),
                "out": fmt(n_out),
                "removed": fmt(removed),
                "share": f"{removed / n_in:.1%}" if removed is not None and n_in else "",
                "seconds": fmt(round(number(s.get("seconds")) or 0, 2))
                if s.get("seconds") is not None
                else "",
                "reasons": ", ".join(f"{r} ({fmt(c)})" for r, c in step_reasons.items()),
            }
        )
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:TOP_N]
    balanced = None if None in (read, kept, rejected) else read == kept + rejected
    return {
        "read": fmt(read),
        "kept": fmt(kept),
        "rejected": fmt(rejected),
        "balanced": balanced,
        "funnel_img": plots.funnel(names, counts) if len(names) > 1 else None,
        "rows": rows,
        "reasons_img": plots.hbar([k for k, _ in top], [v for _, v in top], "records removed", plots.ORANGE)
        if top
        else None,
        "examples": [{"reason": k, "id": r.get("id", ""), "text": _snippet(r)} for k, r in examples.items()][
            :TOP_N
        ],
    }


def _snippet(reject: dict[str, Any], n: int = 240) -> str:
    rest = {k: v for k, v in reject.items() if k not in ("id", "step", "reason")}
    text = rest.get("text") if isinstance(rest.get("text"), str) else json.dumps(rest, ensure_ascii=False)
    return text if len(text) <= n else text[: n - 1] + "…"


def lengths(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """Length histograms before and after the steps."""
    hist = (stats or {}).get("lengths")
    if not isinstance(hist, dict):
        return None
    series = {}
    for name in ("before", "after"):
        h = hist.get(name)
        if isinstance(h, dict) and h.get("counts") and h.get("bins"):
            series[name] = (h["bins"], h["counts"])
    if not series:
        return None
    unit = hist.get("unit", "words")
    return {"img": plots.histograms(series, f"length ({unit})")}


def words(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """Top words by frequency f(w) = count(w) / N, and the top co-occurring pairs."""
    stats = stats or {}
    freq = stats.get("word_freq") if isinstance(stats.get("word_freq"), dict) else {}
    co = stats.get("cooccurrence") if isinstance(stats.get("cooccurrence"), dict) else {}
    top = [w for w in freq.get("top") or [] if isinstance(w, (list, tuple)) and len(w) >= 2][:TOP_N]
    pairs = [p for p in co.get("top") or [] if isinstance(p, (list, tuple)) and len(p) >= 3][:TOP_N]
    if not top and not pairs:
        return None
    return {
        "n": fmt(freq.get("N")),
        "window": fmt(co.get("window")),
        "img": plots.hbar([str(w[0]) for w in top], [number(w[1]) or 0 for w in top], "count")
        if top
        else None,
        "words": [{"word": w[0], "count": fmt(w[1]), "f": fmt(w[2]) if len(w) > 2 else ""} for w in top],
        "pairs": [{"a": p[0], "b": p[1], "count": fmt(p[2])} for p in pairs],
    }


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
