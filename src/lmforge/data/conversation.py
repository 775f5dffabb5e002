"""Conversations (`messages`) checked once, in prepare: ShareGPT and OpenAI roles mapped to user / assistant
/ system, and turns that would train badly or break a chat template fixed by one rule, or rejected.

The normal form every chat template accepts (Llama 2 and Mistral templates raise on anything else):
an optional system turn, then user and assistant turns alternating, ending with the assistant. With
`policy="fix"` (the default) a conversation is brought there, in this order:

1. empty turns (only whitespace) are dropped: an empty answer trains the model to stop at once;
2. system turns at the start are joined into one; a system turn later is a reject (where would it go?);
3. assistant turns before the first user turn are dropped (FastChat's rule for ShareGPT: they answer
   nothing);
4. turns of the same role in a row are joined with a blank line (one message sent in two parts);
5. a user turn at the end is dropped: it has no answer to learn or to score against.

What was fixed is counted in `meta.conversation_fixed`. With `policy="reject"` each of 1, 3, 4, 5 is a
reject instead. Either way, no user turn or no assistant turn left is a reject, as is an unknown role.

Agent conversations (`lmforge.data.tool_calls`): an assistant turn may carry `tool_calls` (its content
then may be empty) and `reasoning_content`; `tool` turns answer the calls before them. Tool turns are
never joined or dropped as empty; an assistant text turn followed by a call turn (ShareGPT's `gpt` then
`function_call`) is one assistant turn with content and calls; tool results at the end are dropped with
the trailing user turn (rule 5). Calls and results are then checked against the record's `tools`.
"""

from __future__ import annotations

from typing import Any

from lmforge.data import tool_calls

# ShareGPT exports name their speakers after the product; OpenAI's own names map to themselves
ROLES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "system": "system",
    **{r: "tool" for r in tool_calls.RESULT_ROLES},
    **{r: "assistant" for r in tool_calls.CALL_ROLES},
}
_TURN_KEYS = ("role", "from", "content", "value", "tool_calls", "function_call", "reasoning", "thinking")
Messages = list[dict[str, Any]]
# each fixing step logs (what, the reject reason naming the turn, how many turns); "reject" takes the first
Log = list[tuple[str, str, int]]


def role_of(turn: dict[str, Any]) -> str | None:
    """`{"from": "gpt", "value": "Hi"}` -> "assistant"; None for a role not in ROLES."""
    role = turn.get("role", turn.get("from"))
    return ROLES.get(role.strip().lower()) if isinstance(role, str) else None


def content_of(turn: dict[str, Any]) -> Any:
    return turn.get("content", turn.get("value"))


def normalize(
    turns: Any, policy: str = "fix", tools: list[dict[str, Any]] | None = None
) -> tuple[Messages, dict[str, int]] | str:
    """(turns as {"role", "content"} in the normal form, fixes counted) or the reject reason.

    >>> messages, fixes = normalize([{"from": "gpt", "value": "Welcome!"}, {"from": "human", "value": "Hi"},
    ...                              {"from": "human", "value": "Are you there?"}, {"from": "gpt", "value": "Yes."}])
    >>> messages, fixes
    ([{'role': 'user', 'content': 'Hi\\n\\nAre you there?'}, {'role': 'assistant', 'content': 'Yes.'}], {'leading_assistant': 1, 'merged': 1})
    >>> normalize([{"from": "human", "value": "Hi"}, {"from": "gpt", "value": ""},
    ...            {"from": "gpt", "value": "Yo"}], "reject")
    'empty turn 1 (assistant)'
    """
    if not isinstance(turns, list) or not turns:
        return "field 'messages' is not a non-empty list"
    messages = []
    for i, turn in enumerate(turns):
        message = _bad_turn(i, turn) or _message(i, turn)
        if isinstance(message, str):
            return message
        messages.append(message)
    present = {m["role"] for m in messages if _said(m)}
    for role in ("user", "assistant"):
        if role not in present:
            return f"conversation has no {role} turn"
    log: Log = []
    for step in (_drop_empty, _system_first, _drop_leading_assistant, _merge_runs, _drop_trailing_user):
        messages = step(messages, log)
        if isinstance(messages, str):
            return messages
        if policy == "reject" and log:
            return log[0][1]
    if not any(m["role"] == "assistant" for m in messages):  # [assistant, user]: the answer came first
        return "conversation has no assistant turn after a user turn"
    bad = tool_calls.check_calls(messages, tools)
    if bad:
        return bad
    fixes: dict[str, int] = {}
    for name, _, n in log:
        fixes[name] = fixes.get(name, 0) + n
    return [{k: v for k, v in m.items() if k != "_turn"} for m in messages], fixes


def _bad_turn(i: int, turn: Any) -> str | None:
    if not isinstance(turn, dict):
        return f"turn {i} is a {type(turn).__name__}, not an object with role and content"
    role = turn.get("role", turn.get("from"))
    if role_of(turn) is None:
        known = ", ".join(ROLES)
        return f"unknown role {role!r} in turn {i} (known: {known}; or map it before prepare)"
    calls = _raw_calls(turn)
    if not isinstance(content_of(turn), str) and not (calls is not None and content_of(turn) is None):
        return f"turn {i} has no text content ({type(content_of(turn)).__name__})"
    return None


def _raw_calls(turn: dict[str, Any]) -> Any:
    """The turn's tool calls as given (None for none): OpenAI's tool_calls or function_call, or ShareGPT's
    function_call turn, whose text is the call."""
    if turn.get("tool_calls"):
        return turn["tool_calls"]
    if turn.get("function_call"):
        return turn["function_call"]
    role = turn.get("role", turn.get("from"))
    return content_of(turn) if str(role).strip().lower() in tool_calls.CALL_ROLES else None


def _message(i: int, turn: dict[str, Any]) -> dict[str, Any] | str:
    """One turn as {"role", "content", ...}: tool calls parsed, a thinking trace kept apart."""
    role = role_of(turn)
    extra = {k: v for k, v in turn.items() if k not in _TURN_KEYS and k != "reasoning_content"}
    message = {"role": role, "content": content_of(turn), **extra, "_turn": i}
    raw = _raw_calls(turn)
    if raw is not None:
        calls = tool_calls.parse_calls(raw, f"turn {i}")
        if isinstance(calls, str):
            return calls
        is_text = raw is not content_of(turn)  # a ShareGPT call turn's text is the call itself
        message.update(content=content_of(turn) if is_text and content_of(turn) else "", tool_calls=calls)
    if role == "assistant":
        reasoning, message["content"] = tool_calls.split_thinking(turn, message["content"])
        if reasoning:
            message["reasoning_content"] = reasoning
    return message


def _said(m: dict[str, Any]) -> bool:
    """A turn that says something: text, a tool call, or any tool result (an empty result is an answer)."""
    return bool(m["content"].strip() or m.get("tool_calls") or m["role"] == "tool")


def _drop_empty(messages: Messages, log: Log) -> Messages:
    kept = [m for m in messages if _said(m)]
    if len(kept) < len(messages):
        first = next(m for m in messages if not _said(m))
        reason = f"empty turn {first['_turn']} ({first['role']})"
        log.append(("empty_turns", reason, len(messages) - len(kept)))
    return kept


def _system_first(messages: Messages, log: Log) -> Messages | str:
    n = next((i for i, m in enumerate(messages) if m["role"] != "system"), len(messages))
    late = [m for m in messages[n:] if m["role"] == "system"]
    if late:
        return f"system turn {late[0]['_turn']} is not at the start of the conversation"
    if n > 1:  # several system turns at the start: one system message
        joined = {**messages[0], "content": "\n\n".join(m["content"] for m in messages[:n])}
        log.append(
            ("merged", f"system turns {messages[0]['_turn']}-{messages[n - 1]['_turn']} in a row", n - 1)
        )
        messages = [joined, *messages[n:]]
    return messages


def _drop_leading_assistant(messages: Messages, log: Log) -> Messages:
    start = 1 if messages and messages[0]["role"] == "system" else 0
    n = start
    while n < len(messages) and messages[n]["role"] == "assistant":
        n += 1
    if n > start:
        reason = f"conversation starts with the assistant (turn {messages[start]['_turn']})"
        log.append(("leading_assistant", reason, n - start))
    return messages[:start] + messages[n:]


def _merge_runs(messages: Messages, log: Log) -> Messages:
    out: Messages = []
    for m in messages:
        if out and out[-1]["role"] == m["role"] != "tool":
            prev = out[-1]
            # a text turn, then its call (ShareGPT's gpt + function_call) is one turn in OpenAI's form: no fix
            if not (m.get("tool_calls") and not prev.get("tool_calls")):
                log.append(
                    ("merged", f"two {m['role']} turns in a row (turns {prev['_turn']}, {m['_turn']})", 1)
                )
            out[-1] = _join(prev, m)
        else:
            out.append(m)
    return out


def _join(prev: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    """Two turns of one role as one: texts and reasoning joined by a blank line, calls in order."""
    joined = {**prev, **m, "_turn": prev["_turn"]}
    for key in ("content", "reasoning_content"):
        parts = [x[key] for x in (prev, m) if x.get(key)]
        if parts or key == "content":
            joined[key] = "\n\n".join(parts)
    calls = [c for x in (prev, m) for c in x.get("tool_calls") or []]
    if calls:
        joined["tool_calls"] = calls
    return joined


def _drop_trailing_user(messages: Messages, log: Log) -> Messages:
    if len(messages) > 1 and messages[-1]["role"] in ("user", "tool"):
        n = len(messages)
        while n > 1 and messages[n - 1]["role"] in ("user", "tool"):
            n -= 1
        turn = messages[-1]["_turn"]
        log.append(
            (
                "trailing_user",
                f"conversation ends with a {messages[-1]['role']} turn (turn {turn})",
                len(messages) - n,
            )
        )
        return messages[:n]
    return messages
