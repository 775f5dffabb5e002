"""The printed funnel: one row per step with records in, out, dropped, time and the top reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def print_summary(stats: dict[str, Any], out_dir: Path) -> None:
    """Example:

    step                     in      out  dropped  changed    time  top reason
    read                  3,000    2,990       10        -       -  malformed JSON (7)
    """
    print(f"{'step':<18}{'in':>9}{'out':>9}{'dropped':>9}{'changed':>9}{'time':>8}  top reason")
    for row in stats["steps"]:
        reasons = row.get("reasons") or {}
        top = max(reasons.items(), key=lambda kv: kv[1]) if reasons else None
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
    verdict = "ok" if a["ok"] else "MISMATCH"
    print(
        f"read {a['read']:,} = kept {a['kept']:,} + rejected {a['rejected']:,}: {verdict}   "
        f"({stats['time_s']:.1f}s, {stats.get('workers', 1)} workers) -> {out_dir}"
    )
