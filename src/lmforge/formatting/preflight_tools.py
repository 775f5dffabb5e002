"""`lmforge inspect` on tool-calling data: how the train split uses tools, what the tool definitions cost
in tokens, what `train.max_seq_len` cuts of them, and one tool-calling example with its trained tokens.

The tool definitions' tokens are measured, not guessed from the JSON: each tool-calling record is rendered
through the chat template with its tools and without them, and the tokens that differ (between the common
start and the common end of the two) are the definitions as the template writes them. A cut through them
(`task.truncate: left` cuts the start, where templates put the tools; `right` cuts a definition list longer
than max_seq_len) trains calls against a schema the model cannot see; a cut through an assistant turn that
calls a tool trains half a call. Both are counted, and warned about.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from lmforge.data.stats import count_tools, merge_tool_counts

MEASURE_MAX = 2_000  # tool-calling records measured (each is rendered twice more); counts cover them all
BUDGET_SHARE = 0.5  # warn when the tool definitions take more than this share of the tokens


def uses_tools(record: dict[str, Any]) -> bool:
    """A record that declares tools, calls one or holds a tool result."""
    turns = record.get("messages") if isinstance(record.get("messages"), list) else []
    return bool(record.get("tools")) or any(
        isinstance(t, dict) and (t.get("tool_calls") or t.get("role") == "tool") for t in turns
    )


def tool_report(cfg: Any, task: Any, tokenizer: Any, warnings: list[str]) -> dict[str, Any] | None:
    """Counts, token costs, cuts and a rendered example for the train split's tool-calling records (None
    when no record uses tools, or the task is not sft); warnings are appended to `warnings`."""
    from lmforge.formatting.templates import renderer
    from lmforge.formatting.token_cache import mentions_tools, read_jsonl

    path = Path(cfg.data.output_dir) / "train.jsonl"
    if cfg.task.type != "sft" or not mentions_tools(path):  # a byte scan first: no JSON parsed for nothing
        return None
    records = [r for r in read_jsonl(path) if uses_tools(r)]
    if not records:
        return None
    counts: Counter = Counter()
    for r in records:
        count_tools(r, counts)
    report: dict[str, Any] = dict(merge_tool_counts([counts]) or {})
    limit, policy = cfg.train.max_seq_len, cfg.task.truncate
    draw = renderer(tokenizer, "drop" if task.thinking == "drop" else "keep")  # as chat_texts renders
    sizes = [_measure(task, tokenizer, draw, r) for r in records[:MEASURE_MAX]]
    cuts = [_cuts(s, limit, policy) for s in sizes]
    defs = [s["tools_end"] - s["tools_start"] for s in sizes if s["declares"]]
    report["records"], report["measured"] = len(records), len(sizes)
    report["definition_tokens"] = {
        "mean": round(sum(defs) / len(defs), 1) if defs else 0.0,
        "max": max(defs, default=0),
        "share": round(sum(defs) / max(1, sum(s["n"] for s in sizes if s["declares"])), 4),
        "over_half_max_seq_len": sum(1 for d in defs if d > limit * BUDGET_SHARE),
    }
    report["cut"] = {k: sum(c[k] for c in cuts) for k in ("definitions", "calls", "dropped")}
    report["example"] = _example(task, tokenizer, records, limit)
    warnings += _warnings(report, limit, policy)
    return report


def _measure(task: Any, tokenizer: Any, draw: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Token positions of one record: its length, the span of its tool definitions, its call turns' spans.

    The definitions span is where the whole renders with and without `tools` differ: [common start,
    length - common end) of the render with them (empty when the record declares none). The renders are
    whole conversations, never prefixes: without its tools a record that calls tools may render its
    prompt otherwise than its whole (the default template's tool branch follows the calls).
    """
    from lmforge.formatting.templates import token_ids
    from lmforge.formatting.tool_template import template_messages

    pieces = task.texts(record, tokenizer)  # prompt, answer, prompt, answer, ..., tail
    ids = token_ids(tokenizer, pieces, task.add_special_tokens)
    bounds = [0]
    for p in ids:
        bounds.append(bounds[-1] + len(p))
    messages = task.to_messages(record)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant" and i > 0]
    answers = [(bounds[k], bounds[k + 1]) for k in range(1, len(pieces) - 1, 2)]
    calls = (
        [span for i, span in zip(turns, answers, strict=True) if messages[i].get("tool_calls")]
        if len(turns) == len(answers)  # a template that renders history apart (Qwen3) trains fewer turns
        else []
    )
    start = end = 0
    if record.get("tools"):
        template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
        messages = template_messages(messages, template, task.thinking)
        texts = [draw(messages, False, record["tools"]), draw(messages, False, None)]
        whole, plain = token_ids(tokenizer, texts, task.add_special_tokens)
        start = _common(whole, plain)
        end = len(whole) - _common(whole[start:][::-1], plain[start:][::-1])
    return {
        "n": bounds[-1],
        "declares": bool(record.get("tools")),
        "tools_start": start,
        "tools_end": end,
        "calls": calls,
    }


def _common(a: list[int], b: list[int]) -> int:
    """Length of the common start of two id lists: `_common([1, 2, 3], [1, 2, 4])` -> 2."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _cuts(size: dict[str, Any], limit: int, policy: str) -> dict[str, int]:
    """What max_seq_len does to one measured record: definitions cut, a call turn cut through, dropped.

    >>> _cuts({"n": 120, "declares": True, "tools_start": 5, "tools_end": 60, "calls": [(90, 110)]}, 100, "left")
    {'definitions': 1, 'calls': 0, 'dropped': 0}
    >>> _cuts({"n": 120, "declares": True, "tools_start": 5, "tools_end": 60, "calls": [(90, 110)]}, 100, "right")
    {'definitions': 0, 'calls': 1, 'dropped': 0}
    """
    n = size["n"]
    if n <= limit:
        return {"definitions": 0, "calls": 0, "dropped": 0}
    if policy == "drop":
        return {"definitions": 0, "calls": 0, "dropped": 1}
    lo, hi = (0, limit) if policy == "right" else (n - limit, n)  # the tokens kept
    spans = size["tools_end"] > size["tools_start"]
    definitions = spans and (size["tools_start"] < lo or size["tools_end"] > hi)
    calls = any(a < lo < b or a < hi < b for a, b in size["calls"])
    return {"definitions": int(definitions), "calls": int(calls), "dropped": 0}


def _example(task: Any, tokenizer: Any, records: list[dict[str, Any]], limit: int) -> dict[str, Any] | None:
    """The first record that calls a tool (one that also holds a result first) as training sees it."""
    from lmforge.formatting.trained_marks import example_spans

    def calls(r: dict[str, Any]) -> bool:
        return any(isinstance(t, dict) and t.get("tool_calls") for t in r.get("messages") or [])

    def results(r: dict[str, Any]) -> bool:
        return any(isinstance(t, dict) and t.get("role") == "tool" for t in r.get("messages") or [])

    ordered = [r for r in records if calls(r) and results(r)] + [r for r in records if calls(r)]
    for record in ordered[:20]:
        example = task.encode_batch([record], tokenizer, limit)[0][0]
        if example is not None:  # dropped as too long, or nothing trained after truncation: the next one
            return {"id": record.get("id"), "spans": example_spans(example, tokenizer)}
    return None


def _warnings(report: dict[str, Any], limit: int, policy: str) -> list[str]:
    measured, defs, cut = report["measured"], report["definition_tokens"], report["cut"]
    of = f"of {measured:,} tool-calling train records"
    out = []
    if cut["definitions"]:
        harm = (
            "nothing after them is left to train (the record is dropped)"
            if policy == "right"
            else "the model would learn calls against a schema it cannot see"
        )
        out.append(
            f"{cut['definitions']:,} {of} have their tool definitions cut by max_seq_len {limit}: {harm} "
            "(train.max_seq_len / task.truncate)"
        )
    if cut["calls"]:
        out.append(
            f"{cut['calls']:,} {of} have a tool-calling turn cut through by max_seq_len {limit}: "
            "the model would learn half a call"
        )
    if cut["dropped"]:
        out.append(f"{cut['dropped']:,} {of} are dropped as longer than max_seq_len {limit}")
    if defs["share"] > BUDGET_SHARE:
        out.append(
            f"tool definitions take {defs['share']:.0%} of the tokens of the records that declare tools "
            "(prompt, untrained): most of the budget goes to schemas"
        )
    if defs["over_half_max_seq_len"]:
        out.append(
            f"{defs['over_half_max_seq_len']:,} {of} spend more than half of max_seq_len {limit} "
            f"on tool definitions (max {defs['max']:,} tokens)"
        )
    return out


def format_tools(tools: dict[str, Any], mark: Any, shown: Any = None) -> list[str]:
    """The text report's tool lines; `mark(spans)` draws the example (plain markers or colour), unless
    its spans are `shown` already (the first train example was this one)."""
    from lmforge.data.summary import tool_line

    d, cut = tools["definition_tokens"], tools["cut"]
    measured = "" if tools["measured"] == tools["records"] else f" (the first {tools['measured']:,})"
    lines = [
        tool_line(tools),
        f"tool definitions{measured}: {d['mean']:g} tokens per record on average (max {d['max']:,}), "
        f"{d['share']:.1%} of those records' tokens; cut by max_seq_len: definitions in {cut['definitions']:,} "
        f"records, calls in {cut['calls']:,}, dropped {cut['dropped']:,}",
    ]
    if tools.get("example") and tools["example"]["spans"] == shown:
        lines.append(f"tool-calling example: the example above (record {tools['example']['id']})")
    elif tools.get("example"):
        lines += [
            f"tool-calling example, record {tools['example']['id']} (trained tokens marked as above):",
            mark(tools["example"]["spans"]),
        ]
    return lines
