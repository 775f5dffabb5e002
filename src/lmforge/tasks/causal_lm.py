"""causal_lm: plain text, loss on every token; each document ends with EOS.

Documents longer than `max_seq_len` are cut into consecutive chunks by `tokenize_split` (nothing is lost);
`train.packing` then packs the chunks into bins, each example isolated from the others.
`encode` (one record) applies `task.truncate` like the other tasks.
"""

from __future__ import annotations

from typing import Any

from lmforge.tasks.base import Example, Task, field


class CausalLmTask(Task):
    name = "causal_lm"
    add_special_tokens = True  # a BOS where the tokenizer uses one, as in pre-training

    def to_messages(self, record: dict[str, Any]) -> str:  # type: ignore[override]
        """The raw text: causal_lm uses no chat template."""
        return str(field(record, "text"))

    def prompt_messages(self, record: dict[str, Any]) -> str:  # type: ignore[override]
        return ""

    def target(self, record: dict[str, Any]) -> str:
        return self.to_messages(record)

    def texts(self, record: dict[str, Any], tokenizer: Any) -> list[str]:
        return [self.to_messages(record)]

    def assemble(self, record: dict[str, Any], tokenizer: Any, ids: list[list[int]]) -> Example:
        tokens = list(ids[0])
        if tokenizer.eos_token_id is not None and (not tokens or tokens[-1] != tokenizer.eos_token_id):
            tokens.append(tokenizer.eos_token_id)
        return {"input_ids": tokens, "labels": list(tokens)}


def chunk(example: Example, max_seq_len: int) -> list[Example]:
    """Cut a long document into consecutive pieces of at most max_seq_len tokens.

    >>> chunk({"input_ids": [1, 2, 3], "labels": [1, 2, 3]}, 2)
    [{'input_ids': [1, 2], 'labels': [1, 2]}, {'input_ids': [3], 'labels': [3]}]
    """
    n = len(example["input_ids"])
    return [{k: v[i : i + max_seq_len] for k, v in example.items()} for i in range(0, n, max_seq_len)]
