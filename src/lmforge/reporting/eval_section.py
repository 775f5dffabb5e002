"""Evaluation sections: the base vs fine-tuned table and sample generations side by side."""

from __future__ import annotations

import math
from typing import Any

from lmforge.evaluation.metrics import GENERATION_METRICS
from lmforge.evaluation.tool_metrics import LOWER_IS_BETTER as TOOL_LOWER_IS_BETTER
from lmforge.evaluation.tool_metrics import TOOL_METRICS
from lmforge.reporting.load import number
from lmforge.reporting.sections import LOWER_IS_BETTER, fmt

MAX_CHARS = 1500  # per generation shown; a runaway generation that never stops should not fill a screen
SAMPLE_FIELDS = [("reference", "reference"), ("base", "base model"), ("finetuned", "fine-tuned")]


def better(metric: str, diff: float) -> str:
    """'better', 'worse' or 'same' for a change `diff` (fine-tuned minus base) of `metric`.

    >>> better("loss", -0.2), better("rouge_l", -0.2), better("accuracy", 0.0)
    ('better', 'worse', 'same')
    """
    if diff == 0 or math.isnan(diff):
        return "same"
    lower = any(metric.lower().endswith(s) for s in (*LOWER_IS_BETTER, *TOOL_LOWER_IS_BETTER))
    return "better" if (diff < 0) == lower else "worse"


def eval_table(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Rows metric / base / fine-tuned / difference from eval.json; either column may be absent."""
    if not result:
        return None
    base = result.get("base") if isinstance(result.get("base"), dict) else {}
    tuned = result.get("finetuned") if isinstance(result.get("finetuned"), dict) else {}
    names = _ordered([k for k in (*base, *tuned) if k not in TOOL_METRICS and not k.startswith("n_")])
    rows = []
    for name in names:
        b, t = number(base.get(name)), number(tuned.get(name))
        if b is None and t is None:
            continue
        if name == "n":  # the records behind the generation metrics: a row of its own, just above them
            of = f" of {fmt(result['records'])}" if number(result.get("records")) is not None else ""
            cells = {
                side: "" if v is None else f"{fmt(v)}{of} records"
                for side, v in (("base", b), ("finetuned", t))
            }
            rows.append({"metric": name, **cells, "diff": "", "verdict": ""})
            continue
        diff = t - b if b is not None and t is not None else None
        rows.append(
            {
                "metric": name,
                "base": fmt(b),
                "finetuned": fmt(t),
                "diff": "" if diff is None else ("+" if diff > 0 else "") + fmt(diff),
                "verdict": "" if diff is None else better(name, diff),
            }
        )
    tools = tool_rows(base, tuned)
    if not rows and not tools:
        return None
    return {
        "split": result.get("split", ""),
        "records": fmt(result.get("records")) if number(result.get("records")) is not None else "",
        "rows": rows,
        "tool_rows": tools,
        "contamination": contamination(result),
    }


def contamination(result: dict[str, Any]) -> dict[str, Any] | None:
    """eval.json's contamination split: the overlap counts, then per metric clean vs overlap, each side.

    >>> c = {"train_records": 9, "exact": 1, "ngram": 2, "near_duplicate": 1, "thresholds": {"ngram": 13,
    ...      "near_duplicate_jaccard": 0.8}, "clean": {"n": 3, "base": {"loss": 2.0}},
    ...      "overlap": {"n": 1, "base": {"loss": 1.0}}}
    >>> contamination({"contamination": c})["rows"][0]
    {'metric': 'loss', 'clean_base': '2', 'clean_finetuned': '', 'overlap_base': '1', 'overlap_finetuned': ''}
    """
    c = result.get("contamination")
    if not isinstance(c, dict) or not isinstance(c.get("clean"), dict):
        return None
    blocks = {name: c.get(name) or {} for name in ("clean", "overlap")}
    keys = [k for b in blocks.values() for side in ("base", "finetuned") for k in b.get(side) or {}]
    rows = []
    for name in dict.fromkeys(keys):
        if name.startswith(("n_", "precision_", "recall_")):
            continue
        cells = {
            f"{block}_{side}": fmt((blocks[block].get(side) or {}).get(name))
            for block in blocks
            for side in ("base", "finetuned")
        }
        rows.append({"metric": name, **cells})
    t = c.get("thresholds") or {}
    return {
        "summary": f"{fmt(blocks['overlap'].get('n'))} records overlap the training split "
        f"({fmt(c.get('train_records'))} records): {fmt(c.get('exact'))} exact (normalised text), "
        f"{fmt(c.get('ngram'))} share a {fmt(t.get('ngram'))}-gram, {fmt(c.get('near_duplicate'))} "
        f"near-duplicate (MinHash, Jaccard >= {fmt(t.get('near_duplicate_jaccard'))}); "
        f"{fmt(blocks['clean'].get('n'))} clean",
        "rows": rows,
    }


TOOL_TITLES = {
    "tool_name_match": "function names right",
    "tool_args_match": "arguments right",
    "tool_call_match": "calls right (name and arguments)",
    "tool_missed_calls": "no call where one was due",
    "tool_false_calls": "a call where none was due",
    "tool_valid_json": "calls that parse (of the replies that tried)",
}


def tool_rows(base: dict[str, Any], tuned: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool-call metrics (evaluation/tool_metrics.py), each side with the n behind its rate.

    >>> tool_rows({"tool_false_calls": 0.5, "n_tool_false_calls": 4}, {"tool_false_calls": 0.25,
    ...     "n_tool_false_calls": 4})[0]["finetuned"]
    '0.25 (n=4)'
    """
    rows = []
    for name in TOOL_METRICS:
        b, t = number(base.get(name)), number(tuned.get(name))
        if b is None and t is None:
            continue
        cells = {}
        for side, value, metrics in (("base", b, base), ("finetuned", t, tuned)):
            n = number(metrics.get(f"n_{name}"))
            shown = "-" if value is not None and math.isnan(value) else fmt(value)
            cells[side] = "" if value is None else shown + ("" if n is None else f" (n={fmt(n)})")
        diff = t - b if b is not None and t is not None and not math.isnan(t - b) else None
        rows.append(
            {
                "metric": name,
                "title": TOOL_TITLES[name],
                **cells,
                "diff": "" if diff is None else ("+" if diff > 0 else "") + fmt(diff),
                "verdict": "" if diff is None else better(name, diff),
            }
        )
    return rows


def _ordered(keys: list[str]) -> list[str]:
    """Metric names once each, base order first, with `n` moved just above the first generation metric.

    >>> _ordered(["loss", "rouge_l", "eos_rate", "n", "loss"])
    ['loss', 'n', 'rouge_l', 'eos_rate']
    """
    names = [k for k in dict.fromkeys(keys) if k != "n"]
    if "n" in keys:
        at = next((i for i, k in enumerate(names) if k in GENERATION_METRICS), len(names))
        names.insert(at, "n")
    return names


def samples(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Prompt, then reference / base / fine-tuned next to each other (stacked on a narrow screen)."""
    present = [(key, title) for key, title in SAMPLE_FIELDS if any(r.get(key) is not None for r in rows)]
    items = []
    for r in rows:
        if r.get("prompt") is None and not any(r.get(k) is not None for k, _ in present):
            continue
        items.append(
            {
                "prompt": _text(r.get("prompt")),
                "columns": [
                    {"title": title + _reward(r.get(f"{key}_reward")), "key": key, "text": _text(r.get(key))}
                    for key, title in present
                ],
            }
        )
    return {"rows": items, "n_columns": len(present)} if items else None


def _reward(value: Any) -> str:
    """The reward of an rl eval's sample (evaluation/rl_scores.py), for its column's title: ' (reward 0.5)'."""
    return "" if number(value) is None else f" (reward {fmt(value)})"


def _text(value: Any) -> str:
    """Strings as they are; messages or other structures as `role: content` lines."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(
            f"{m.get('role', '?')}: {m.get('content', '')}" if isinstance(m, dict) else str(m) for m in value
        )
    text = str(value)
    return (
        text
        if len(text) <= MAX_CHARS
        else text[:MAX_CHARS] + f"… [{len(text) - MAX_CHARS:,} more characters]"
    )
