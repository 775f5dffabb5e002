"""The printed funnel: one row per step with records in, out, dropped, time and the top reason; warnings
for a step that dropped more than half of its input or raised; the check that a run kept enough."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def print_summary(stats: dict[str, Any], out_dir: Path) -> None:
    """Example:

    step                     in      out  dropped  changed    time  top reason
    read                  3,000    2,990       10        -       -  malformed JSON (7)
    """
    print(f"{'step':<18}{'in':>9}{'out':>9}{'dropped':>9}{'changed':>9}{'time':>8}  top reason")
    for row in stats["steps"]:
        top = top_reason(row)
        t = "-" if row.get("time_s") is None else f"{row['time_s']:.1f}s"
        changed = f"{row['changed']:,}" if row.get("changed") is not None else "-"
        print(
            f"{row['step']:<18}{row['in']:>9,}{row['out']:>9,}{row['in'] - row['out']:>9,}{changed:>9}{t:>8}  "
            + (f"{top[0]} ({top[1]:,})" if top else "")
        )
    a, s = stats["accounting"], stats["split"]
    print(
        f"split: train {s['train']:,}  val {s['val']:,}  test {s['test']:,}   "
        f"encoding repaired: {stats['encoding_repaired']:,}"
    )
    if stats.get("tools"):
        print(tool_line(stats["tools"]))
    verdict = "ok" if a["ok"] else "MISMATCH"
    print(
        f"read {a['read']:,} = kept {a['kept']:,} + rejected {a['rejected']:,}: {verdict}   "
        f"({stats['time_s']:.1f}s, {stats.get('workers', 1)} workers) -> {out_dir}"
    )
    for row in stats["steps"]:
        for note, n in sorted((row.get("notes") or {}).items(), key=lambda kv: -kv[1]):
            print(f"note: {row['step']} kept {n:,} records: {note}")
    for line in stats.get("warnings", []):
        print(f"warning: {line}")


def tool_line(tools: dict[str, Any], top: int = 5) -> str:
    """stats.json's `tools` block as one line (the kept records' tool use).

    >>> tool_line({"records_with_tools": 3, "records_with_calls": 2, "records_answered_in_text": 1, "calls": 3,
    ...            "results": 0, "records_with_thinking": 0, "calls_per_tool": {"f": 2, "g": 1}})
    'tools: 3 records declare tools, 2 call them (3 calls: f 2, g 1), 1 answer in text; 0 tool results; 0 with thinking'
    """
    names = list(tools["calls_per_tool"].items())
    shown = ", ".join(f"{k} {v:,}" for k, v in names[:top])
    more = len(names) - top + tools.get("other_tools", 0)
    shown += f", {more:,} more tools" if more > 0 else ""
    return (
        f"tools: {tools['records_with_tools']:,} records declare tools, {tools['records_with_calls']:,} call "
        f"them ({tools['calls']:,} calls: {shown or '-'}), {tools['records_answered_in_text']:,} answer in "
        f"text; {tools['results']:,} tool results; {tools['records_with_thinking']:,} with thinking"
    )


def top_reason(row: dict[str, Any]) -> tuple[str, int] | None:
    """`{"reasons": {"too short": 5, "too long": 1}}` -> ("too short", 5); None without reasons."""
    reasons = row.get("reasons") or {}
    return max(reasons.items(), key=lambda kv: kv[1]) if reasons else None


def funnel_warnings(steps: list[dict[str, Any]], out_dir: Path) -> list[str]:
    """A line per step that dropped more than half of what it got, and per step that raised.

    >>> funnel_warnings([{"step": "length", "in": 10, "out": 2, "reasons": {"too short": 8}}], Path("o"))
    ['length dropped 8 of 10 records (80%), top reason: too short (8)']
    """
    lines = []
    for row in steps:
        dropped = row["in"] - row["out"]
        if row["in"] and dropped > row["in"] / 2:
            top = top_reason(row)
            why = f", top reason: {top[0]} ({top[1]:,})" if top else ""
            lines.append(
                f"{row['step']} dropped {dropped:,} of {row['in']:,} records ({dropped / row['in']:.0%}){why}"
            )
        if row.get("errors"):
            lines.append(
                f"{row['step']} raised on {row['errors']:,} records, rejected as 'error in step'; "
                f"tracebacks in {out_dir / 'errors.log'}"
            )
    return lines


def too_few_kept(stats: dict[str, Any], min_kept: float | None, out_dir: Path) -> str | None:
    """Why the run kept too few records (none at all, or fewer than data.min_kept), naming the step that
    dropped the most; None when enough were kept. A float is a share of the records read, an int a count.

    >>> too_few_kept({"read": 4, "split": {"train": 0, "val": 0, "test": 0}, "steps": [
    ...     {"step": "length", "in": 4, "out": 0, "reasons": {"too short": 4}}]}, None, Path("o"))
    'kept 0 of 4 records: length dropped the most (4 of 4, top reason: too short (4)); see o/rejects.jsonl and o/stats.json'
    """
    kept, read = sum(stats["split"].values()), stats["read"]
    # rounded first: 0.3 * 20 is 6.000000000000001, which must not ask for 7
    need = math.ceil(round(min_kept * read, 6)) if isinstance(min_kept, float) else (min_kept or 0)
    if kept >= max(1, need):
        return None
    rule = f", fewer than data.min_kept: {min_kept} ({need:,})" if need > 1 else ""
    worst = max(stats["steps"], key=lambda r: r["in"] - r["out"], default=None)
    if worst is None or worst["in"] == worst["out"]:
        blame = "no step dropped any" if read else "no record was read"
    else:
        top = top_reason(worst)
        why = f", top reason: {top[0]} ({top[1]:,})" if top else ""
        blame = f"{worst['step']} dropped the most ({worst['in'] - worst['out']:,} of {worst['in']:,}{why})"
    where = f"see {out_dir / 'rejects.jsonl'} and {out_dir / 'stats.json'}"
    return f"kept {kept:,} of {read:,} records{rule}: {blame}; {where}"
