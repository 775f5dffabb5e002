"""The one record type that flows through `prepare`, and the task-aware views of its text.

A record is the task's fields at the top level plus `id` and `meta`, exactly the line written to
train.jsonl: `{"id": "raw/a.jsonl:3", "prompt": "...", "response": "...", "meta": {"source": "raw/a.jsonl"}}`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from lmforge.data.conversation import normalize as normalize_conversation
from lmforge.data.preference import history, normalize_pair
from lmforge.data.tool_calls import parse_tools, tool_signature

# task -> alternative sets of required fields (any one set is enough)
REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "causal_lm": [("text",)],
    "sft": [("prompt", "response"), ("instruction", "output"), ("messages",)],
    "classification": [("text", "label")],
    "qa": [("context", "question", "answer")],
    "summarization": [("document", "summary")],
    "preference": [
        ("prompt", "chosen", "rejected"),
        ("messages", "chosen", "rejected"),
        ("chosen", "rejected"),  # TRL's implicit prompt: two whole conversations
        ("prompt", "completion", "label"),  # KTO, unpaired
        ("messages", "completion", "label"),
    ],
    "rl": [("prompt",), ("messages",)],  # the answer is sampled; other fields are the rewards' columns
}
# every field a task may carry; other source columns go to meta["extra"]
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "causal_lm": ("text",),
    "sft": ("prompt", "response", "system", "instruction", "input", "output", "messages", "tools"),
    "classification": ("text", "label"),
    "qa": ("context", "question", "answer"),
    "summarization": ("document", "summary"),
    "preference": ("prompt", "chosen", "rejected", "system", "messages", "completion", "label", "tools"),
    "rl": ("prompt", "system", "messages", "tools"),  # anything else: meta["extra"], any JSON
}
NOT_TEXT = ("label",)  # fields that steps never rewrite or read as text


@dataclass(slots=True)
class Record:
    """One example. `orig` keeps the fields as read, set the first time a step rewrites them."""

    id: str
    fields: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    orig: dict[str, Any] | None = None
    changes: int = 0  # text rewrites so far (the funnel counts records a step changed)

    def text_keys(self, on: tuple[str, ...] | None = None) -> list[tuple[str, int | None]]:
        """(field, message index) of every text slot: `{"messages": [{..}, {..}]}` -> [("messages", 0), ("messages", 1)]."""
        keys: list[tuple[str, int | None]] = []
        for name, value in self.fields.items():
            if name in NOT_TEXT or (on is not None and name not in on):
                continue
            if isinstance(value, str):
                keys.append((name, None))
            elif name == "messages" and isinstance(value, list):
                keys.extend((name, i) for i, m in enumerate(value) if isinstance(_msg_text(m), str))
        return keys

    def get(self, key: tuple[str, int | None]) -> str:
        name, i = key
        return self.fields[name] if i is None else _msg_text(self.fields[name][i])

    def set(self, key: tuple[str, int | None], text: str) -> None:
        if self.get(key) == text:
            return
        if self.orig is None:  # first rewrite: keep what was read for rejects.jsonl
            self.orig = json.loads(json.dumps(self.fields))
        self.changes += 1
        name, i = key
        if i is None:
            self.fields[name] = text
        else:
            msg = self.fields[name][i]
            msg["content" if "content" in msg else "value"] = text

    def text(self, on: tuple[str, ...] | None = None) -> str:
        """All text slots joined by a blank line: the document that filters judge."""
        return "\n\n".join(self.get(k) for k in self.text_keys(on))

    def dedup_text(self, on: tuple[str, ...] | None = None) -> str:
        """What dedup steps compare: the text, and the record's tools and calls (tool_signature)."""
        return self.text(on) + tool_signature(self.fields)

    def to_row(self) -> dict[str, Any]:
        """The output line: task fields at the top level, plus id and meta."""
        return {"id": self.id, **self.fields, "meta": self.meta}

    def to_work(self) -> dict[str, Any]:
        """The line between stages: the output row plus the original fields when they changed."""
        row = self.to_row()
        if self.orig is not None:
            row["_orig"] = self.orig
        return row

    @classmethod
    def from_work(cls, row: dict[str, Any]) -> Record:
        orig = row.pop("_orig", None)
        return cls(id=row.pop("id"), meta=row.pop("meta"), fields=row, orig=orig)

    def original(self) -> dict[str, Any]:
        return {"id": self.id, **(self.orig if self.orig is not None else self.fields), "meta": self.meta}


def _msg_text(m: Any) -> Any:
    if not isinstance(m, dict):
        return None
    return m.get("content", m.get("value"))


def to_record(
    rid: str, row: dict[str, Any], mapping: dict[str, str], task: str, meta: dict, conversation: str = "fix"
) -> Record | str:
    """Map source fields to task fields; a string is the reject reason. A conversation (`messages`) is
    brought to the normal form of `lmforge.data.conversation` (`conversation`: fix | reject).

    >>> to_record("a:1", {"q": "hi", "a": "yo"}, {"prompt": "q", "response": "a"}, "sft", {}).fields
    {'prompt': 'hi', 'response': 'yo'}
    """
    used = set(mapping.values())
    fields: dict[str, Any] = {}
    for task_field, src in mapping.items():
        if src in row and row[src] is not None:
            fields[task_field] = row[src]
    allowed = TASK_FIELDS[task]
    extra = {}
    for k, v in row.items():
        if k in used or k in fields:
            continue
        if k in allowed and v is not None:
            fields[k] = v
        elif k not in ("id", "meta"):
            extra[k] = v
    if extra:
        meta["extra"] = extra
    if isinstance(row.get("meta"), dict):
        meta["source_meta"] = row["meta"]
    present = [s for s in REQUIRED[task] if all(f in fields for f in s)]
    if not present:
        want = " + ".join(REQUIRED[task][0])
        missing = [f for f in REQUIRED[task][0] if f not in fields]
        src = [mapping.get(f, f) for f in missing]
        return f"missing field '{src[0]}' (task {task} needs {want}; map it with fields:)"
    orig = None
    if task == "preference":  # TRL's shapes -> prompt/messages + chosen/rejected strings (data/preference.py)
        fields = normalize_pair(fields)
        if isinstance(fields, str):
            return fields
    if "tools" in fields:  # OpenAI's function list, or JSON text of it (ShareGPT): lmforge.data.tool_calls
        tools = parse_tools(fields["tools"])
        if isinstance(tools, str):
            return tools
        fields["tools"] = tools
    if "messages" in fields:
        normalizer = history if task in ("preference", "rl") else normalize_conversation
        normal = normalizer(fields["messages"], conversation, fields.get("tools"))
        if isinstance(normal, str):
            return normal
        if normal[1]:  # turns dropped or joined: rejects.jsonl shows the record as read
            orig = copy.deepcopy(fields)
            meta["conversation_fixed"] = normal[1]
        fields["messages"] = normal[0]
    for name, value in fields.items():
        bad = _bad_value(name, value)
        if bad:
            return bad
    return Record(id=rid, fields=fields, meta=meta, orig=orig)


def _bad_value(name: str, value: Any) -> str | None:
    if name == "label":
        if isinstance(value, str) and not value.strip():
            return "empty field 'label'"  # an empty label would become a class of its own
        return (
            None
            if isinstance(value, (str, int, bool))
            else f"non-text value in field 'label' ({type(value).__name__})"
        )
    if name in ("messages", "tools"):
        return None  # checked by normalize_conversation and parse_tools
    if not isinstance(value, str):
        return f"non-text value in field '{name}' ({type(value).__name__})"
    if not value.strip():
        return f"empty field '{name}'"
    return None
