"""classification: text + label.

- `task.head: lm` — the label word is the assistant's answer (loss on it and its EOS); evaluation scores
  each label of the label set and picks the likeliest.
- `task.head: classifier` — a sequence-classification head on the LLM reads the prompt's last token;
  the example is {"input_ids", "label": index into the label set}.
The label set is `task.labels`, or the sorted distinct labels of the train split (`resolve_labels`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmforge.errors import UserError
from lmforge.tasks.base import Example, Task, field, render_prompt


class ClassificationTask(Task):
    name = "classification"
    default_template = "Classify the text as one of: {labels}.\n\nText: {text}"
    target_field = "label"

    def slots(self, record: dict[str, Any]) -> dict[str, Any]:
        # a custom template without {labels} needs no label set (unless the head is a classifier)
        return {"labels": ", ".join(self.label_set())} if "{labels}" in self.template else {}

    def label_set(self) -> list[str]:
        if not self.labels:
            raise UserError(
                "classification needs a label set: set task.labels, or prepare a train split with labels"
            )
        return [str(x) for x in self.labels]

    def label_index(self, record: dict[str, Any]) -> int:
        """The record's label as an index into the label set: "neg" with [neg, pos] -> 0."""
        label = str(field(record, "label"))
        labels = self.label_set()
        if label not in labels:
            raise UserError(f"record {record.get('id', '?')}: label '{label}' is not in task.labels {labels}")
        return labels.index(label)

    def texts(self, record: dict[str, Any], tokenizer: Any) -> list[str]:
        if self.cfg.head == "classifier":
            return [render_prompt(self, record, tokenizer)]
        return super().texts(record, tokenizer)

    def assemble(self, record: dict[str, Any], tokenizer: Any, ids: list[list[int]]) -> Example:
        if self.cfg.head == "classifier":
            return {"input_ids": list(ids[0]), "label": self.label_index(record)}
        return super().assemble(record, tokenizer, ids)


def resolve_labels(labels: list[str] | None, train_file: str | Path) -> list[str] | None:
    """`task.labels` when set, else the sorted distinct labels of the train split (None if it is absent).

    >>> resolve_labels(["b", "a"], "unused.jsonl")
    ['b', 'a']
    """
    if labels:
        return [str(x) for x in labels]
    path = Path(train_file)
    if not path.is_file():
        return None
    seen = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                label = json.loads(line).get("label")
                if label is not None:
                    seen.add(str(label))
    return sorted(seen) or None
