"""What every task shares: record -> messages -> tokens (with the loss mask), truncation, batching.

A task only says how a record becomes a conversation (`to_messages`); rendering and the loss mask come
from `lmforge.templates`, the same code inference uses, so training and inference see the same tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lmforge.config import TaskConfig
from lmforge.errors import UserError
from lmforge.formatting.templates import Messages, chat_labels, chat_texts, render, to_messages, token_ids

Example = dict[str, Any]


class Task:
    """Base of the chat-shaped tasks (sft, classification, qa, summarization).

    Subclasses set `default_template` (the user message, `{field}` slots filled from the record, changeable
    with `task.template` in the YAML) and `target_field` (the assistant's answer).
    """

    name = "task"
    default_template = "{text}"
    target_field = "text"
    add_special_tokens = False  # the chat template writes every special token itself
    thinking = "keep"  # train.thinking: the reasoning kept (keep | last | drop); set by token_cache.make_task

    def __init__(self, cfg: TaskConfig) -> None:
        self.cfg = cfg
        self.labels: list[str] | None = cfg.labels
        self.template = cfg.template or self.default_template

    # ---------------------------------------------------------------- record -> messages
    def user_message(self, record: dict[str, Any]) -> str:
        """The prompt template filled from the record: "Summarize: {document}" -> "Summarize: A long text"."""
        return fill(self.template, record, self.slots(record))

    def slots(self, record: dict[str, Any]) -> dict[str, Any]:
        """Extra template slots beyond the record's own fields."""
        return {}

    def target(self, record: dict[str, Any]) -> str:
        """The expected answer (what the assistant says)."""
        return str(field(record, self.target_field))

    def prompt_messages(self, record: dict[str, Any]) -> Messages:
        """The conversation up to the answer: what generation is given at eval/predict time."""
        return to_messages(self.user_message(record), self.cfg.system)

    def to_messages(self, record: dict[str, Any]) -> Messages:
        """The whole conversation the model is trained on."""
        return [*self.prompt_messages(record), {"role": "assistant", "content": self.target(record)}]

    # ---------------------------------------------------------------- messages -> tokens
    def texts(self, record: dict[str, Any], tokenizer: Any) -> list[str]:
        """Strings to tokenize for this record (batched across records by `encode_batch`)."""
        tools = record.get("tools") or None  # OpenAI's function list: the template renders it
        return chat_texts(tokenizer, self.to_messages(record), self.cfg.train_on_prompt, tools, self.thinking)

    def assemble(self, record: dict[str, Any], tokenizer: Any, ids: list[list[int]]) -> Example:
        """The untruncated example from the token ids of `texts(...)`."""
        input_ids, labels = chat_labels(tokenizer, self.to_messages(record), ids, self.cfg.train_on_prompt)
        return {"input_ids": input_ids, "labels": labels}

    def encode(self, record: dict[str, Any], tokenizer: Any, max_seq_len: int) -> Example | None:
        """One record as {"input_ids", "labels"} (or {"input_ids", "label"}); None when dropped.

        >>> Task(TaskConfig()).encode({"prompt": "Hi", "response": "Yo"}, tok, 512)  # doctest: +SKIP
        {'input_ids': [1, 9690, ...], 'labels': [-100, ..., 56, 78, 2, -100]}
        """
        return self.encode_batch([record], tokenizer, max_seq_len)[0][0]

    def encode_batch(
        self, records: list[dict[str, Any]], tokenizer: Any, max_seq_len: int
    ) -> tuple[list[Example | None], Counter]:
        """Encode many records with one call of the fast tokenizer; counts of truncated/dropped/no_loss."""
        texts = [self.texts(r, tokenizer) for r in records]
        flat = [t for ts in texts for t in ts]
        ids = token_ids(tokenizer, flat, self.add_special_tokens)
        out: list[Example | None] = []
        counts: Counter = Counter()
        pos = 0
        for record, ts in zip(records, texts, strict=True):
            example = self.assemble(record, tokenizer, ids[pos : pos + len(ts)])
            pos += len(ts)
            out.append(truncate(example, max_seq_len, self.cfg.truncate, counts))
        return out, counts


def truncate(example: Example, max_seq_len: int, policy: str, counts: Counter) -> Example | None:
    """Apply `task.truncate` (right: keep the start; left: keep the end; drop), counting what happened.

    An example whose loss mask is empty after truncation is dropped too (counted as `no_loss`): it would
    add nothing but padding to a batch.

    >>> truncate({"input_ids": [1, 2, 3], "labels": [1, 2, 3]}, 2, "left", Counter())
    {'input_ids': [2, 3], 'labels': [2, 3]}
    """
    n = len(example["input_ids"])
    if n > max_seq_len:
        if policy == "drop":
            counts["dropped"] += 1
            return None
        counts["truncated"] += 1
        counts["truncated_tokens"] += n - max_seq_len
        cut = slice(0, max_seq_len) if policy == "right" else slice(n - max_seq_len, n)
        example = {k: v[cut] if isinstance(v, list) else v for k, v in example.items()}
    if "labels" in example and all(x == -100 for x in example["labels"]):
        counts["no_loss"] += 1
        return None
    return example


def fill(template: str, record: dict[str, Any], extra: dict[str, Any]) -> str:
    """`"Q: {question}"` with {"question": "Why?"} -> `"Q: Why?"`; a missing slot is a one-line error."""
    try:
        return template.format_map({**record, **extra})
    except KeyError as e:
        raise UserError(
            f"task.template slot {{{e.args[0]}}} is not a field of record {record.get('id', '?')} "
            f"(fields: {', '.join(sorted(k for k in record if k not in ('id', 'meta')))})"
        ) from None
    except (ValueError, IndexError) as e:
        raise UserError(
            f"task.template is not a valid format string ({e}); write literal braces as {{{{ }}}}"
        ) from None


def field(record: dict[str, Any], name: str) -> Any:
    """record[name], or a one-line error naming the record and the missing field."""
    if name not in record or record[name] is None:
        raise UserError(
            f"record {record.get('id', '?')} has no field '{name}' (fields: {', '.join(sorted(record))})"
        )
    return record[name]


def render_prompt(task: Task, record: dict[str, Any], tokenizer: Any) -> str:
    """The prompt text exactly as inference renders it (chat template plus the assistant header)."""
    messages = task.prompt_messages(record)
    return render(tokenizer, messages, True, record.get("tools") or None, task.thinking)
