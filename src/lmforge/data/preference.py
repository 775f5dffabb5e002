"""Preference records in prepare: TRL's shapes brought to one form, the pair checks, the grouping key.

One form after mapping: `prompt` (a string) or `messages` (the shared history, OpenAI turns), plus
`chosen` and `rejected` (strings: the two assistant answers), or KTO's `completion` + `label` (a bool).
TRL's conversational form (`prompt` a list of turns, `chosen` / `rejected` lists of assistant turns, or the
implicit form where `chosen` / `rejected` are whole conversations sharing their history) is rewritten to it.
"""

from __future__ import annotations

from typing import Any

# what identifies a pair for exact/near dedup and decontamination: the prompt with its chosen answer
# (two pairs that share a prompt and a good answer are one example, whatever their bad answers)
KEY_FIELDS = ("system", "prompt", "messages", "chosen", "completion")
PROMPT_FIELDS = ("system", "prompt", "messages")  # pairs of one prompt share a split
_TRUE = {"true", "1", "yes", "desirable", "good", "chosen"}
_FALSE = {"false", "0", "no", "undesirable", "bad", "rejected"}


def normalize_pair(fields: dict[str, Any]) -> dict[str, Any] | str:
    """The record's fields in the one form, or the reason it is rejected.

    >>> normalize_pair({"prompt": [{"role": "user", "content": "Hi"}],
    ...                 "chosen": [{"role": "assistant", "content": "Hello!"}], "rejected": "Go away."})
    {'chosen': 'Hello!', 'rejected': 'Go away.', 'messages': [{'role': 'user', 'content': 'Hi'}]}
    """
    fields = dict(fields)
    if isinstance(fields.get("prompt"), list):  # TRL conversational: the prompt is the history
        fields["messages"] = fields.pop("prompt")
    if isinstance(fields.get("chosen"), list) and isinstance(fields.get("rejected"), list):
        fields = _split_implicit(fields)
    for side in ("chosen", "rejected", "completion"):
        if isinstance(fields.get(side), list):
            if any(
                isinstance(t, dict) and (t.get("tool_calls") or t.get("function_call")) for t in fields[side]
            ):
                # a chosen/rejected tool call: not trained yet; never dropped silently (axolotl #3824)
                return f"'{side}' is a tool call: preference pairs of tool calls are not supported yet"
            answer = _assistant_answer(fields[side])
            if answer is None:
                return f"'{side}' must be an assistant answer (a string or one assistant turn)"
            fields[side] = answer
    if "prompt" not in fields and "messages" not in fields:
        return "missing field 'prompt' (task preference needs prompt + chosen + rejected, or messages)"
    if "completion" in fields and "chosen" not in fields:
        return _check_unpaired(fields)
    return _check_paired(fields)


_ANSWER = "\x00lmforge-answer\x00"  # stands in for the answer while the history is normalised


def history(
    turns: Any, policy: str = "fix", tools: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]] | str:
    """The shared history normalised as `data.conversation.normalize` does a conversation, except that it
    must end with a user turn (the answers follow it) and that turn is kept.

    >>> history([{"from": "human", "value": "Hi"}])
    ([{'role': 'user', 'content': 'Hi'}], {})
    """
    from lmforge.data.conversation import normalize

    if not isinstance(turns, list) or not turns:
        return "field 'messages' is not a non-empty list"
    normal = normalize([*turns, {"role": "assistant", "content": _ANSWER}], policy, tools)
    if isinstance(normal, str):
        return normal
    messages, fixes = normal
    if messages[-1]["content"] != _ANSWER:
        return "the history must end with a user turn (the answers follow it)"
    return messages[:-1], fixes


def _split_implicit(fields: dict[str, Any]) -> dict[str, Any]:
    """TRL's implicit prompt: `chosen` and `rejected` are whole conversations; their shared start is the
    history, their last turns the answers."""
    chosen, rejected = fields["chosen"], fields["rejected"]
    if len(chosen) < 2 or len(rejected) < 2 or chosen[:-1] != rejected[:-1]:
        return fields  # one turn each (explicit form), or no shared history: left to the checks
    out = {**fields, "chosen": chosen[-1:], "rejected": rejected[-1:]}
    out["messages"] = list(fields.get("messages") or []) + chosen[:-1]
    return out


def _assistant_answer(turns: list[Any]) -> str | None:
    if len(turns) != 1 or not isinstance(turns[0], dict):
        return None
    turn = turns[0]
    role = turn.get("role", turn.get("from"))
    content = turn.get("content", turn.get("value"))
    if role not in ("assistant", "gpt", "model", "bot", "chatgpt") or not isinstance(content, str):
        return None
    return content


def _check_paired(fields: dict[str, Any]) -> dict[str, Any] | str:
    for side in ("chosen", "rejected"):
        if side not in fields:
            return f"missing field '{side}' (task preference needs prompt + chosen + rejected)"
    chosen, rejected = fields["chosen"], fields["rejected"]
    if isinstance(chosen, str) and isinstance(rejected, str) and chosen.strip() == rejected.strip():
        return "chosen == rejected (the pair teaches nothing)"
    return fields


def _check_unpaired(fields: dict[str, Any]) -> dict[str, Any] | str:
    label = as_label(fields.get("label"))
    if label is None:
        return f"KTO label must be true or false (got {fields.get('label')!r})"
    return {**fields, "label": label}


def as_label(value: Any) -> bool | None:
    """KTO's label as a bool: True, 1, "true", "desirable" -> True; anything unclear -> None.

    >>> as_label("False"), as_label(1), as_label("maybe")
    (False, True, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def group_key(fields: dict[str, Any]) -> str:
    """The text that decides a preference record's split: its prompt (system, history), not its id, so
    that every pair of one prompt lands in one split.

    >>> group_key({"prompt": "Hi", "chosen": "a", "rejected": "b"})
    'prompt:"Hi"'
    """
    import json

    return "|".join(f"{k}:{json.dumps(fields[k], sort_keys=True)}" for k in PROMPT_FIELDS if k in fields)
