"""Token lengths for `lmforge inspect`: after `train.max_seq_len` cut the examples, and before.

The lengths before are the same records rendered by the same task code with no length limit, so a user
sees how many records max_seq_len cuts, by how much, and what is lost (`task.truncate`: right/left cut
the excess, drop loses the whole record; causal_lm documents are chunked and lose nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PERCENTILES = (50, 90, 95, 99)
NO_LIMIT = 1 << 62  # a max_seq_len nothing reaches: what tokenize_split uses to chunk causal_lm documents


def length_stats(values: list[int], top: int) -> dict[str, Any]:
    """Min, mean, percentiles, max and a 10-bin histogram over 0..top.

    >>> length_stats([1, 2, 3, 10], 10)["p50"], length_stats([1, 2, 3, 10], 10)["histogram"]["counts"]
    (2.5, [0, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    """
    import numpy as np

    n = np.array(values or [0])
    counts, edges = np.histogram(n, bins=10, range=(0, top))
    return {
        "min": int(n.min()),
        "mean": round(float(n.mean()), 1),
        **{f"p{p}": float(np.percentile(n, p)) for p in PERCENTILES},
        "max": int(n.max()),
        "histogram": {"edges": [int(x) for x in edges], "counts": counts.tolist()},
    }


def lengths(examples: list[dict], max_seq_len: int) -> dict[str, Any]:
    """The example lengths in tokens as training sees them (after truncation), histogram over 0..max_seq_len."""
    return {"length": length_stats([len(e["input_ids"]) for e in examples], max_seq_len)}


def lengths_before(cfg: Any, task: Any, tokenizer: Any, examples: list[dict], stats: dict) -> list[int]:
    """Each train record's token length before max_seq_len (truncation, dropping or chunking) applies.

    When nothing was cut, those are the examples' own lengths; else the split is encoded again with no
    length limit (one more tokenizer pass: the cached examples keep only the cut result).
    """
    from lmforge.formatting.token_cache import encode_records, read_jsonl

    if not (stats.get("truncated") or stats.get("dropped") or stats.get("chunked")):
        return [len(e["input_ids"]) for e in examples]
    records = read_jsonl(Path(cfg.data.output_dir) / "train.jsonl")
    whole, _ = encode_records(task, records, tokenizer, NO_LIMIT, cfg.data.workers)
    return [len(e["input_ids"]) for e in whole]


def over_max(before: list[int], max_seq_len: int, policy: str, task_type: str) -> dict[str, Any]:
    """How many records exceed max_seq_len, by how many tokens, and how many tokens training loses.

    >>> over_max([4, 10, 14], 8, "right", "sft")  # doctest: +NORMALIZE_WHITESPACE
    {'max_seq_len': 8, 'handled': 'truncated (right)', 'records': 2, 'rate': 0.6667, 'excess_tokens': 8,
     'mean_excess': 4.0, 'max_excess': 6, 'tokens_lost': 8, 'tokens_lost_share': 0.2857}
    """
    excess = [n - max_seq_len for n in before if n > max_seq_len]
    if task_type == "causal_lm":
        handled, lost = "chunked (nothing lost)", 0
    elif policy == "drop":
        handled, lost = "dropped", sum(n for n in before if n > max_seq_len)
    else:
        handled, lost = f"truncated ({policy})", sum(excess)
    return {
        "max_seq_len": max_seq_len,
        "handled": handled,
        "records": len(excess),
        "rate": round(len(excess) / max(1, len(before)), 4),
        "excess_tokens": sum(excess),
        "mean_excess": round(sum(excess) / len(excess), 1) if excess else 0.0,
        "max_excess": max(excess, default=0),
        "tokens_lost": lost,
        "tokens_lost_share": round(lost / max(1, sum(before)), 4),
    }


def format_lengths(report: dict[str, Any]) -> list[str]:
    """The length lines of the text report: before and after max_seq_len, and what it cut."""
    if "length_before" not in report:
        return [_percentiles("length", report["length"])]
    over = report["over_max_seq_len"]
    lines = [
        _percentiles("length before max_seq_len", report["length_before"]),
        _percentiles("length after max_seq_len ", report["length"]),
    ]
    if over["records"]:
        lines.append(
            f"over max_seq_len {over['max_seq_len']}: {over['records']} records ({over['rate']:.1%}) "
            f"{over['handled']}, by {over['mean_excess']:g} tokens on average (max {over['max_excess']}); "
            f"{over['tokens_lost']} tokens lost ({over['tokens_lost_share']:.1%} of all)"
        )
    else:
        lines.append(f"no record is longer than max_seq_len {over['max_seq_len']}")
    return lines


def _percentiles(title: str, stats: dict[str, Any]) -> str:
    return title + "  " + "  ".join(f"{k} {stats[k]:g}" for k in ("min", "p50", "p90", "p95", "p99", "max"))
