"""qa: context + question -> answer (loss on the answer and its EOS)."""

from __future__ import annotations

from lmforge.tasks.base import Task


class QaTask(Task):
    name = "qa"
    default_template = "Answer the question using the context.\n\nContext: {context}\n\nQuestion: {question}"
    target_field = "answer"
