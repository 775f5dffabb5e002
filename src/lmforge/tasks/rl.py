"""rl: prompts for online RL (`train.objective: grpo`): a `prompt` (text, through `task.template`) or a
conversation (`messages`) ending with a user turn; the answers are sampled during training.

Every other field of the record (prepare keeps them in `meta.extra`, any JSON: a reference answer, test
cases, a schema) is passed to the reward functions by name (training/rewards.py). An example is
`{"input_ids": the prompt as generation sees it, "prompt_len": P, "rl_record": JSON text of
{"prompt": the record's prompt (text) or messages, "columns": {...}}}`. A prompt longer than
`train.max_seq_len` is dropped (counted), or cut from the left under `task.truncate: left`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from lmforge.formatting.templates import Messages, token_ids
from lmforge.tasks.base import Example, Task, fill, render_prompt
from lmforge.tasks.preference import PreferenceTask
from lmforge.tasks.sft import conversation

OWN_FIELDS = ("id", "meta", "prompt", "messages", "system", "tools")


class RlTask(Task):
    name = "rl"
    default_template = "{prompt}"
    target_field = "prompt"

    # a `prompt` through task.template, or the conversation so far; the record's system wins
    prompt_messages = PreferenceTask.prompt_messages

    def to_messages(self, record: dict[str, Any]) -> Messages:
        return self.prompt_messages(record)

    def target(self, record: dict[str, Any]) -> str:
        return ""  # sampled in training; judged by the reward functions

    def reward_prompt(self, record: dict[str, Any]) -> str | Messages:
        """What the reward functions get as the prompt: text, or the conversation (TRL's convention)."""
        return conversation(record) if "messages" in record else fill(self.template, record, {})

    def encode_batch(
        self, records: list[dict[str, Any]], tokenizer: Any, max_seq_len: int
    ) -> tuple[list[Example | None], Counter]:
        ids = token_ids(
            tokenizer, [render_prompt(self, r, tokenizer) for r in records], self.add_special_tokens
        )
        out: list[Example | None] = []
        counts: Counter = Counter()
        for record, row in zip(records, ids, strict=True):
            if len(row) >= max_seq_len:  # no room left for a single sampled token
                if self.cfg.truncate != "left":
                    counts["dropped"] += 1
                    out.append(None)
                    continue
                counts["truncated"] += 1
                counts["truncated_tokens"] += len(row) - max_seq_len // 2
                row = row[len(row) - max_seq_len // 2 :]
            rl = {"prompt": self.reward_prompt(record), "columns": columns(record)}
            out.append(
                {"input_ids": row, "prompt_len": len(row), "rl_record": json.dumps(rl, ensure_ascii=False)}
            )
        return out, counts


def columns(record: dict[str, Any]) -> dict[str, Any]:
    """The fields the reward functions read: the record's own beyond the prompt, and meta.extra's.

    >>> columns({"prompt": "2+2?", "meta": {"extra": {"answer": 4}}})
    {'answer': 4}
    """
    extra = (record.get("meta") or {}).get("extra") or {}
    return {**extra, **{k: v for k, v in record.items() if k not in OWN_FIELDS}}
