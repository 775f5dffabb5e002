"""Tool-call metrics of eval: the calls a model's reply makes against the calls the record's answer makes.

A record is scored for tool calls when it offers `tools` and its conversation ends with an assistant turn.
That turn is the reference: its `tool_calls` (a call was due), or text (no call was due). The reply is
split by `formatting.tool_parse.parse_assistant`, the parser `lmforge serve` uses. Every metric comes with
`n_<metric>`, the records behind it, in the same map of eval.json:

| metric | of the records | counts |
|---|---|---|
| `tool_name_match` | a call was due | the names called (as a multiset) are the reference's |
| `tool_args_match` | a call was due | the arguments (as a multiset, names aside) equal the reference's |
| `tool_call_match` | a call was due | name and arguments together, call by call, in any order |
| `tool_missed_calls` | a call was due | the reply attempted no call |
| `tool_false_calls` | no call was due | the reply attempted a call |
| `tool_valid_json` | the reply attempted a call | every call block parsed (JSON with a name) |

Arguments are equal when they are the same JSON after parsing: key order aside, numbers as numbers
(5 == 5.0, but "5" != 5 and true != 1). A rate of no records is NaN with its n of 0.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from lmforge.formatting.tool_parse import ParsedReply, parse_assistant

DUE = ("tool_name_match", "tool_args_match", "tool_call_match", "tool_missed_calls")
TOOL_METRICS = (*DUE, "tool_false_calls", "tool_valid_json")
LOWER_IS_BETTER = ("tool_missed_calls", "tool_false_calls")


def reference_calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The calls of the conversation's last assistant turn ([] when it answers in text); None when the
    conversation does not end with an assistant turn (nothing to score).

    >>> reference_calls([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    []
    """
    if not messages or messages[-1].get("role") != "assistant":
        return None
    return list(messages[-1].get("tool_calls") or [])


def canonical(value: Any) -> Any:
    """JSON as a hashable value where equal JSON is equal: objects by keys, numbers by value, true != 1.

    >>> canonical({"b": 1, "a": [2.0]}) == canonical({"a": [2], "b": 1.0}), canonical(True) == canonical(1)
    (True, False)
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)  # 5 == 5.0 and hash(5) == hash(5.0): Python compares them as numbers
    if isinstance(value, dict):
        return ("object", frozenset((k, canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(canonical(v) for v in value))
    return value  # str, None


def call_key(call: dict[str, Any]) -> tuple[str | None, Any]:
    """(name, canonical arguments) of a call in OpenAI's form; arguments as JSON text or an object.

    >>> call_key({"function": {"name": "f", "arguments": '{"x": 1}'}}) == call_key(
    ...     {"function": {"name": "f", "arguments": {"x": 1.0}}})
    True
    """
    function = call.get("function", call) if isinstance(call, dict) else {}
    args = function.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return function.get("name"), ("not json", args)
    return function.get("name"), canonical({} if args is None else args)


def score_call(reference: list[dict[str, Any]], reply: ParsedReply) -> dict[str, bool]:
    """One record's outcomes; `reference` [] means no call was due.

    >>> ref = [{"function": {"name": "f", "arguments": '{"x": 5}'}}]
    >>> score_call(ref, ParsedReply(None, [{"function": {"name": "f", "arguments": '{"x": "5"}'}}]))
    {'attempted': True, 'valid_json': True, 'name': True, 'args': False, 'call': False}
    """
    attempted = bool(reply.tool_calls or reply.errors)
    want = [call_key(c) for c in reference]
    got = [call_key(c) for c in reply.tool_calls]
    same = bool(want) and not reply.errors  # a call block that did not parse is a call got wrong
    return {
        "attempted": attempted,
        "valid_json": attempted and not reply.errors,
        "name": same and Counter(n for n, _ in got) == Counter(n for n, _ in want),
        "args": same and Counter(a for _, a in got) == Counter(a for _, a in want),
        "call": same and Counter(got) == Counter(want),
    }


def tool_metrics(
    references: list[list[dict[str, Any]]], replies: list[str], template: str | None = None
) -> dict[str, float]:
    """Rates and their `n_` over records offered tools: one reference (list of calls) per reply text.

    >>> ref = [{"function": {"name": "f", "arguments": '{"x": 1}'}}]
    >>> m = tool_metrics([ref, []], ['<tool_call>{"name": "f", "arguments": {"x": 1.0}}</tool_call>', "Hi"])
    >>> m["tool_call_match"], m["n_tool_call_match"], m["tool_false_calls"], m["n_tool_false_calls"]
    (1.0, 1, 0.0, 1)
    """
    due: list[dict[str, bool]] = []
    not_due: list[dict[str, bool]] = []
    for ref, text in zip(references, replies, strict=True):
        outcome = score_call(ref, parse_assistant(text, template))
        (due if ref else not_due).append(outcome)
    attempted = [o for o in due + not_due if o["attempted"]]
    rates = {
        "tool_name_match": (due, "name"),
        "tool_args_match": (due, "args"),
        "tool_call_match": (due, "call"),
        "tool_missed_calls": (due, None),
        "tool_false_calls": (not_due, "attempted"),
        "tool_valid_json": (attempted, "valid_json"),
    }
    out: dict[str, float] = {}
    for name, (group, key) in rates.items():
        hits = sum((not o["attempted"]) if key is None else o[key] for o in group)
        out[name] = hits / len(group) if group else float("nan")
        out[f"n_{name}"] = len(group)
    return out


def tool_scores(task: Any, tokenizer: Any, records: list[dict], gens: list[Any]) -> dict[str, float]:
    """`tool_metrics` of the generations for the records that offer tools ({} when none does).

    A reply is read as generated, special tokens kept: some families' call markers are special tokens
    (Mistral's `[TOOL_CALLS]`, Llama 3.1's `<|python_tag|>`).
    """
    references, replies = [], []
    for record, gen in zip(records, gens, strict=True):
        reference = reference_calls(task.to_messages(record)) if record.get("tools") else None
        if reference is None:
            continue
        references.append(reference)
        replies.append(tokenizer.decode(gen.ids, skip_special_tokens=False) if gen.ids else gen.text)
    if not references:
        return {}
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None
    return tool_metrics(references, replies, template)
