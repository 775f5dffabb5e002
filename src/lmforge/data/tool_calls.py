"""Tool calls and thinking traces in a conversation: read in their common shapes, checked, or rejected.

Shapes read (each becomes OpenAI's, the form chat templates take, with `arguments` parsed to an object as
transformers' templates expect):

- OpenAI's fine-tuning format: an assistant turn `{"role": "assistant", "content": null, "tool_calls":
  [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "<JSON text>"}}]}`, then
  `{"role": "tool", "tool_call_id": "c1", "content": "..."}`; the record's `tools` is
  `[{"type": "function", "function": {"name", "description", "parameters"}}]`;
- OpenAI's older `function_call` on an assistant turn and `function` role for its result;
- ShareGPT (LLaMA-Factory, glaive): `{"from": "function_call", "value": "{\\"name\\": ..., \\"arguments\\": ...}"}`
  (one call or a list) and `{"from": "observation", "value": "..."}`; `tools` as JSON text;
- thinking: `reasoning_content` (or `reasoning` / `thinking`) on an assistant turn, or `<think>...</think>`
  at the start of its content, kept apart as `reasoning_content`.

A record is rejected, with the reason, for arguments that are not a JSON object, a call to a tool the record
does not declare (when it declares any), a tool result without a call before it to answer, or arguments
that break the declared JSON Schema (validated with `jsonschema`: a required argument missing, a wrong type).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# roles of tool turns, as the formats name them
CALL_ROLES = ("function_call", "tool_call")  # ShareGPT: an assistant turn that is a call
RESULT_ROLES = ("tool", "observation", "function", "ipython")  # the tool's answer
_REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def parse_tools(value: Any) -> list[dict[str, Any]] | str:
    """A record's `tools` (a list, or JSON text of one) in OpenAI's form, or the reject reason.

    >>> parse_tools('[{"name": "f", "parameters": {"type": "object"}}]')
    [{'type': 'function', 'function': {'name': 'f', 'parameters': {'type': 'object'}}}]
    """
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as e:
            return f"field 'tools' is not valid JSON ({e.msg} at character {e.pos})"
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return f"field 'tools' is a {type(value).__name__}, not a list of functions"
    tools = []
    for i, tool in enumerate(value):
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            return f"tool {i} has no function name"
        params = function.get("parameters")
        if params is not None and not isinstance(params, dict):
            return f"tool {function['name']!r}: parameters are not a JSON Schema object"
        tools.append({"type": "function", "function": function})
    return tools


def tool_signature(fields: dict[str, Any]) -> str:
    """What a dedup step must see of a record's tools beyond its text: digests of the declared tools and of
    every call's name and arguments ("" for a record without either, whose key stays its text). Two records
    that ask the same question of different functions (BFCL's live_simple has 4 such pairs), or whose
    calls differ only in a number, are not duplicates.

    >>> tool_signature({"messages": [{"role": "user", "content": "Hi"}]})
    ''
    >>> tool_signature({"tools": [{"function": {"name": "f"}}], "messages": []})
    '\\n\\ntools 7fd03c19117207fb calls 71857576257465c7'
    """
    turns = fields.get("messages") if isinstance(fields.get("messages"), list) else []
    calls = [  # names and arguments: call ids are the exporter's (ShareGPT has none)
        [(c.get("function") or {}).get("name"), (c.get("function") or {}).get("arguments")]
        for t in turns
        if isinstance(t, dict)
        for c in t.get("tool_calls") or []
        if isinstance(c, dict)
    ]
    tools = fields.get("tools")
    if not calls and not tools:
        return ""
    return f"\n\ntools {_digest(tools)} calls {_digest(calls)}"


def _digest(value: Any) -> str:
    """A 16-hex-digit digest of `value`'s canonical JSON: one word to dedup's shingles (the tools' JSON,
    often far longer than the question, made near_dedup's shingles alike for every question asked of the
    same tools)."""
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def split_thinking(turn: dict[str, Any], content: str) -> tuple[str | None, str]:
    """(reasoning, answer) of an assistant turn: its reasoning field, or a leading <think> block.

    >>> split_thinking({}, "<think>\\n2+2=4\\n</think>\\n\\nFour.")
    ('2+2=4', 'Four.')
    """
    for key in _REASONING_KEYS:
        if isinstance(turn.get(key), str):
            return turn[key].strip("\n"), content
    match = _THINK.match(content)
    if match:
        return match.group(1).strip("\n"), content[match.end() :]
    return None, content


def parse_calls(raw: Any, where: str) -> list[dict[str, Any]] | str:
    """Tool calls (OpenAI's list, one call, or JSON text of either) in OpenAI's form with parsed arguments.

    >>> parse_calls('{"name": "f", "arguments": "{\\\\"x\\\\": 1}"}', "turn 1")
    [{'type': 'function', 'function': {'name': 'f', 'arguments': {'x': 1}}}]
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            return f"{where}: the tool call is not valid JSON ({e.msg} at character {e.pos})"
    calls = raw if isinstance(raw, list) else [raw]
    if not calls:
        return f"{where}: an empty list of tool calls"
    out = []
    for call in calls:
        function = call.get("function", call) if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            return f"{where}: a tool call without a function name"
        args = function.get("arguments", function.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as e:
                return f"{where}: arguments of {function['name']!r} are not valid JSON ({e.msg} at character {e.pos})"
        if not isinstance(args, dict):
            return (
                f"{where}: arguments of {function['name']!r} are a {type(args).__name__}, not a JSON object"
            )
        new = {"type": "function", "function": {"name": function["name"], "arguments": args}}
        if isinstance(call, dict) and isinstance(call.get("id"), str):
            new["id"] = call["id"]
        out.append(new)
    return out


def check_calls(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str | None:
    """The reject reason of a conversation's tool turns, or None when every call and result fits.

    Each tool result must answer a call made before it since the last user turn (by `tool_call_id` when
    both carry ids); each call must name a declared tool (when the record declares tools) and its
    arguments must validate against that tool's `parameters` schema.
    >>> check_calls([{"role": "user", "content": "Hi", "_turn": 0}, {"role": "tool", "content": "42", "_turn": 1}], None)
    'turn 1: a tool result without a tool call before it'
    """
    declared = {t["function"]["name"]: t["function"] for t in tools or []}
    open_calls: list[dict[str, Any]] = []
    for m in messages:
        where = f"turn {m.get('_turn', '?')}"
        if m["role"] == "user":
            open_calls = []
        for call in m.get("tool_calls") or []:
            bad = _check_call(call["function"], declared, bool(tools), where)
            if bad:
                return bad
            open_calls.append(call)
        if m["role"] == "tool":
            match = _answered(open_calls, m.get("tool_call_id"))
            if match is None:
                if m.get("tool_call_id") and open_calls:
                    return (
                        f"{where}: tool result for call id {m['tool_call_id']!r}, which no call before it has"
                    )
                return f"{where}: a tool result without a tool call before it"
            open_calls.remove(match)
    return None


def _answered(calls: list[dict[str, Any]], call_id: Any) -> dict[str, Any] | None:
    if not calls:
        return None
    if call_id is None or all("id" not in c for c in calls):
        return calls[0]  # no ids (ShareGPT): results answer the calls in order
    return next((c for c in calls if c.get("id") == call_id), None)


def _check_call(
    function: dict[str, Any], declared: dict[str, Any], has_tools: bool, where: str
) -> str | None:
    name = function["name"]
    if not has_tools:
        return None  # nothing declared to check against (the record carries calls only)
    if name not in declared:
        return f"{where}: call to tool {name!r}, which the record does not declare (declared: {', '.join(declared)})"
    schema = declared[name].get("parameters")
    return _schema_error(schema, function["arguments"], f"{where}: arguments of {name!r}") if schema else None


def _schema_error(schema: dict[str, Any], args: dict[str, Any], what: str) -> str | None:
    """jsonschema's most relevant error, as one line (the field's validator rather than one written here)."""
    import jsonschema

    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        error = jsonschema.exceptions.best_match(cls(schema).iter_errors(args))
    except jsonschema.exceptions.SchemaError as e:
        return f"{what}: the declared parameters are not a valid JSON Schema ({e.message})"
    except jsonschema.exceptions.UnknownType as e:
        return f"{what}: the declared parameters use an unknown type {e.type!r}"
    if error is None:
        return None
    path = "/".join(str(p) for p in error.absolute_path)
    return f"{what} break the declared schema: {error.message}" + (f" (at {path})" if path else "")
