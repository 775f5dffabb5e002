"""summarization: document -> summary (loss on the summary and its EOS)."""

from __future__ import annotations

from lmforge.tasks.base import Task


class SummarizationTask(Task):
    name = "summarization"
    default_template = "Summarize the following document.\n\n{document}"
    target_field = "summary"
