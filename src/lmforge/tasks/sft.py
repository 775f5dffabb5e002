"""sft: prompt/response (+system), alpaca instruction/input/output, or a conversation (OpenAI or ShareGPT).

Loss on every assistant turn (multi-turn dialogues train all of them), or on everything with
`task.train_on_prompt: true`. `task.template` shapes the user message of single-turn records
(default `{prompt}`, and `{instruction}\\n\\n{input}` for alpaca records).
"""

from __future__ import annotations

import json
from typing import Any

from lmforge.data.conversation import ROLES, content_of, role_of
from lmforge.errors import UserError
from lmforge.formatting.templates import Messages, to_messages
from lmforge.tasks.base import Task, field, fill


class SftTask(Task):
    name = "sft"
    default_template = "{prompt}"
    target_field = "response"

    def prompt_messages(self, record: dict[str, Any]) -> Messages:
        messages = self.to_messages(record)
        return messages[:-1] if messages and messages[-1]["role"] == "assistant" else messages

    def target(self, record: dict[str, Any]) -> str:
        messages = self.to_messages(record)
        return answer_text(messages[-1]) if messages and messages[-1]["role"] == "assistant" else ""

    def to_messages(self, record: dict[str, Any]) -> Messages:
        if "messages" in record:
            return to_messages(conversation(record), self.cfg.system)
        system = record.get("system") or self.cfg.system
        if "instruction" in record:
            template = self.cfg.template or (
                "{instruction}\n\n{input}" if record.get("input") else "{instruction}"
            )
            user, answer = fill(template, record, {}), field(record, "output")
        else:
            user, answer = fill(self.template, record, {}), field(record, "response")
        return [*to_messages(user, system), {"role": "assistant", "content": str(answer)}]


def conversation(record: dict[str, Any]) -> Messages:
    """OpenAI {role, content} or ShareGPT {from, value} turns -> [{"role", "content"}].

    Roles are mapped as `lmforge.data.conversation.ROLES` does (human -> user, gpt/chatgpt/bing/bard ->
    assistant, ...). Prepare has brought conversations to their normal form already (or rejected them);
    a record that did not come through prepare is taken as it is, and an unreadable turn is one line.

    >>> conversation({"messages": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]})
    [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Yo'}]
    """
    turns = record["messages"]
    if not isinstance(turns, list) or not turns:
        raise UserError(f"record {record.get('id', '?')}: 'messages' must be a non-empty list of turns")
    out = []
    for i, turn in enumerate(turns):
        role = role_of(turn) if isinstance(turn, dict) else None
        content = content_of(turn) if isinstance(turn, dict) else None
        if role is None or (content is None and not turn.get("tool_calls")):
            got = turn.get("role", turn.get("from")) if isinstance(turn, dict) else turn
            raise UserError(
                f"record {record.get('id', '?')}: turn {i} needs a known role and content "
                f"(got {got!r}; roles: {', '.join(ROLES)})"
            )
        message = {"role": role, "content": "" if content is None else str(content)}
        # tool calls, their results' ids and thinking traces: see lmforge.data.tool_calls
        message.update({k: turn[k] for k in _TOOL_KEYS[role == "tool"] if turn.get(k) is not None})
        out.append(message)
    return out


def answer_text(message: dict[str, Any]) -> str:
    """An assistant turn as the text eval compares with: its content, then its calls as lmforge's default
    template writes them (tool-call metrics compare the calls themselves: evaluation/tool_metrics.py).

    >>> call = {"type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    >>> answer_text({"role": "assistant", "content": "", "tool_calls": [call]})
    '<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>'
    """
    parts = [message["content"]] if message.get("content") else []
    for call in message.get("tool_calls") or []:
        function = call.get("function", call)
        args = function.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                pass  # the text as the record has it
        body = json.dumps({"name": function.get("name"), "arguments": args}, ensure_ascii=False)
        parts.append(f"<tool_call>\n{body}\n</tool_call>")
    return "\n".join(parts)


_TOOL_KEYS = {False: ("tool_calls", "reasoning_content"), True: ("tool_call_id", "name")}  # by role == "tool"
