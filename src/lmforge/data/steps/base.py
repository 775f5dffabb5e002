"""What a step is: a small class with one method.

- `Filter.keep(text)` returns True, or `(False, reason)`; it judges the record's text (its text fields
  joined by a blank line, or only those named in `on:`).
- `TextStep.apply(text)` rewrites each text field in turn.
- `GlobalStep` (dedup) needs to see every record: workers compute `keys(texts)` per batch, then the
  executor calls `decide(keys, ids)` once, in input order.

A record a step cannot judge (a value of the wrong shape) is a reject: return `(False, reason)` or raise
`BadRecord(reason)`. Any other exception is a bug in the step: after a few, the run stops (data/worker.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.data.preference import KEY_FIELDS
from lmforge.data.record import Record

# words as spaCy's English tokenizer cuts them for the web heuristics: words, and punctuation apart
WORD_RE = re.compile(r"\w+(?:['’.-]\w+)*|\.{2,}|[^\w\s]")


def words(text: str) -> list[str]:
    """`"Hi, you."` -> ["Hi", ",", "you", "."]"""
    return WORD_RE.findall(text)


class BadRecord(Exception):
    """A record the step cannot take, e.g. `raise BadRecord("messages is not a list")`: the record is
    rejected with the message as its reason, and the run goes on."""


@dataclass
class StepContext:
    """What steps may need from the experiment: where inputs live, the model (for token counts), the seed."""

    base_dir: Path = field(default_factory=Path.cwd)
    model: str = "smollm2-135m-instruct"
    seed: int = 42
    task: str = "sft"
    conversation: str = "fix"  # task.conversation: fix or reject conversations that do not alternate


class Step:
    """Base of every step. `on` limits the step to some fields (e.g. `on: [response]`).

    A step that keeps a record with a remark (a rule that could not judge it, a rewrite it held back)
    returns `(True, note)` or counts into `self.notes`; the funnel shows each note with its count."""

    name = "step"

    keys_records = False  # dedup and decontamination: what identifies a record, not all of its text

    def __init__(self, on: list[str] | None = None, ctx: StepContext | None = None) -> None:
        self.ctx = ctx or StepContext()
        self.on = tuple(on) if on else None
        self.notes: Counter[str] = Counter()
        if self.on is None and self.keys_records and self.ctx.task == "preference":
            self.on = KEY_FIELDS  # a pair is its prompt with its chosen answer (data/preference.py)

    @property
    def label(self) -> str:
        """How messages name the step: `length`; `custom (clean.py:drop_short)` for a custom one."""
        return self.name

    def process(self, rec: Record) -> Any:
        raise NotImplementedError


class Filter(Step):
    def keep(self, text: str) -> Any:
        raise NotImplementedError

    def process(self, rec: Record) -> Any:
        return self.keep(rec.text(self.on))


class TextStep(Step):
    def apply(self, text: str) -> str:
        raise NotImplementedError

    def process(self, rec: Record) -> Any:
        for key in rec.text_keys(self.on):
            rec.set(key, self.apply(rec.get(key)))
        return True


class GlobalStep(Step):
    """A step that compares records with each other."""

    keys_records = True

    def keys(self, texts: list[str]) -> np.ndarray:  # (n, k) per batch, computed in the workers
        raise NotImplementedError

    def decide(self, keys: np.ndarray, ids: list[str], fetch: Any = None) -> dict[int, str]:
        """Global index -> reason; `fetch(indices) -> {index: text}` reads texts back when needed."""
        raise NotImplementedError
