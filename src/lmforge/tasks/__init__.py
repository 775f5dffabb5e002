"""Task transforms: one file per task type; `get_task(cfg.task)` picks one.

Every task turns a prepared record into a conversation (`to_messages`; plain text for causal_lm) and
into tokens with a loss mask (`encode`): {"input_ids": [...], "labels": [...]} with -100 where no loss
(not shifted), or {"input_ids": [...], "label": int} for `task.head: classifier`.
"""

from __future__ import annotations

from lmforge.config import TaskConfig
from lmforge.errors import UserError
from lmforge.tasks.base import Example, Task
from lmforge.tasks.causal_lm import CausalLmTask
from lmforge.tasks.classification import ClassificationTask, resolve_labels
from lmforge.tasks.preference import PreferenceTask
from lmforge.tasks.qa import QaTask
from lmforge.tasks.rl import RlTask
from lmforge.tasks.sft import SftTask
from lmforge.tasks.summarization import SummarizationTask

TASKS: dict[str, type[Task]] = {
    "causal_lm": CausalLmTask,
    "sft": SftTask,
    "classification": ClassificationTask,
    "qa": QaTask,
    "summarization": SummarizationTask,
    "preference": PreferenceTask,
    "rl": RlTask,
}


def get_task(task_cfg: TaskConfig) -> Task:
    """The transform for `task.type`.

    >>> get_task(TaskConfig(type="qa")).target({"context": "c", "question": "q", "answer": "a"})
    'a'
    """
    if task_cfg.head == "classifier" and task_cfg.type != "classification":
        raise UserError(f"task.head: classifier needs task.type: classification (got {task_cfg.type})")
    return TASKS[task_cfg.type](task_cfg)


__all__ = ["TASKS", "Example", "Task", "get_task", "resolve_labels"]
