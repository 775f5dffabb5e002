"""OpenAI's tool fields of a chat request (`tools`, `tool_choice`, tool calls and results in the history),
and the checks OpenAI makes on them beyond their types.

>>> tool_problem([{"role": "tool", "content": "21", "tool_call_id": "x"}], [], None)  # doctest: +SKIP
("messages with role 'tool' must be a response to a preceding message with 'tool_calls'", 'messages.0.role')
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's pattern for function names


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class FunctionDef(_Strict):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON Schema object
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDef


class CalledFunction(_Strict):
    name: str
    arguments: str  # JSON text, as OpenAI sends it


class ToolCall(_Strict):
    id: str
    type: Literal["function"] = "function"
    function: CalledFunction


class ChosenFunction(_Strict):
    name: str


class NamedChoice(_Strict):
    type: Literal["function"]
    function: ChosenFunction


ToolChoice = Literal["none", "auto", "required"] | NamedChoice


def tool_problem(messages: list[Any], tools: list[Tool], choice: ToolChoice | None) -> tuple[str, str] | None:
    """(message, param) of the first thing OpenAI would refuse in the tools, the choice or the history."""
    return _tools_problem(tools) or _choice_problem(tools, choice) or _history_problem(messages)


def _tools_problem(tools: list[Tool]) -> tuple[str, str] | None:
    seen: set[str] = set()
    for k, tool in enumerate(tools):
        f, param = tool.function, f"tools.{k}.function"
        if not NAME.match(f.name):
            return (
                f"Invalid '{param}.name': {f.name!r} does not match the pattern '^[a-zA-Z0-9_-]{{1,64}}$'",
                f"{param}.name",
            )
        if f.name in seen:
            return f"Invalid '{param}.name': the function {f.name!r} is declared twice", f"{param}.name"
        seen.add(f.name)
        kind = (f.parameters or {}).get("type", "object")
        if kind != "object":
            return (
                f"Invalid schema for function {f.name!r}: the parameters must be a JSON Schema of "
                f"type 'object', got {json.dumps(kind)}",
                f"{param}.parameters",
            )
    return None


def _choice_problem(tools: list[Tool], choice: ToolChoice | None) -> tuple[str, str] | None:
    if choice is None or choice in ("none", "auto"):
        return None
    if not tools:
        return "Invalid value for 'tool_choice': it is only allowed when 'tools' are specified", "tool_choice"
    if isinstance(choice, NamedChoice):
        names = [t.function.name for t in tools]
        if choice.function.name not in names:
            return (
                f"Invalid value for 'tool_choice': the function {choice.function.name!r} is not among the "
                f"declared tools ({', '.join(names)})",
                "tool_choice",
            )
    return None


def _history_problem(messages: list[Any]) -> tuple[str, str] | None:
    """Tool results answer the calls of the assistant turn before them; calls carry JSON arguments and
    are all answered (OpenAI's rules: a template renders a result next to its call)."""
    open_calls: dict[str, int] = {}  # call id -> the assistant message that made it, until answered
    for i, m in enumerate(messages):
        if m.role == "tool":
            if not open_calls and not _after_tool_calls(messages, i):
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a preceding "
                    "message with 'tool_calls'",
                    f"messages.{i}.role",
                )
            if m.tool_call_id is None or m.tool_call_id not in open_calls:
                return (
                    f"Invalid parameter: the 'tool_call_id' {m.tool_call_id!r} of message {i} answers no "
                    f"call of the assistant message before it (open calls: {', '.join(open_calls) or 'none'})",
                    f"messages.{i}.tool_call_id",
                )
            del open_calls[m.tool_call_id]
            continue
        if open_calls:
            return _unanswered(open_calls)
        for j, call in enumerate(m.tool_calls or []):
            if m.role != "assistant":
                return "Invalid parameter: only assistant messages carry 'tool_calls'", f"messages.{i}.role"
            try:
                json.loads(call.function.arguments)
            except json.JSONDecodeError:
                return (
                    f"Invalid parameter: the arguments of tool call {call.id!r} are not JSON",
                    f"messages.{i}.tool_calls.{j}.function.arguments",
                )
            open_calls[call.id] = i
    return _unanswered(open_calls) if open_calls else None


def _after_tool_calls(messages: list[Any], i: int) -> bool:
    """Whether the messages before `i`, past a run of tool results, end with an assistant's calls."""
    k = i - 1
    while k >= 0 and messages[k].role == "tool":
        k -= 1
    return k >= 0 and messages[k].role == "assistant" and bool(messages[k].tool_calls)


def _unanswered(open_calls: dict[str, int]) -> tuple[str, str]:
    i = next(iter(open_calls.values()))
    return (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(open_calls)}",
        f"messages.{i}.role",
    )
