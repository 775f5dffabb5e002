"""preference: a prompt (or a conversation's history) with a chosen and a rejected answer; KTO: one answer
(`completion`) with a `label` (desirable or not).

Both answers are rendered by the one template function inference uses (`chat_texts` / `chat_labels`):
the prompt's tokens are the tokens `lmforge generate` sends, each answer is the tokens the model must
write after them, up to and including its EOS (what the template adds after the EOS is not part of it).
An example is
`{"input_ids": prompt + chosen, "labels": -100 x prompt + chosen, "prompt_len": P, "rejected_ids": rejected}`
(KTO: `{"input_ids": prompt + completion, "labels": ..., "prompt_len": P, "kto_label": 1 | 0}`).
Too long: the prompt is cut from the left (its end, next to the answers, stays) before an answer is
touched; a pair whose longer answer alone does not fit is dropped (counted), as is every over-long pair
under `task.truncate: drop`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lmforge.errors import UserError
from lmforge.formatting.templates import Messages, chat_texts, eos_token_ids, to_messages, token_ids
from lmforge.tasks.base import Example, Task, fill
from lmforge.tasks.sft import conversation


class PreferenceTask(Task):
    name = "preference"
    default_template = "{prompt}"
    target_field = "chosen"

    def prompt_messages(self, record: dict[str, Any]) -> Messages:
        system = record.get("system") or self.cfg.system
        if "messages" in record:
            return to_messages(conversation(record), system)
        return to_messages(fill(self.template, record, {}), system)

    def answers(self, record: dict[str, Any]) -> list[str]:
        """The answers to render: [chosen, rejected], or KTO's [completion]."""
        if "completion" in record and "chosen" not in record:
            return [str(record["completion"])]
        return [str(record["chosen"]), str(record["rejected"])]

    def target(self, record: dict[str, Any]) -> str:
        return self.answers(record)[0]

    def texts(self, record: dict[str, Any], tokenizer: Any) -> list[str]:
        prompt = self.prompt_messages(record)
        pieces = [chat_texts(tokenizer, [*prompt, _assistant(a)]) for a in self.answers(record)]
        return [p for ps in pieces for p in ps]

    def assemble(self, record: dict[str, Any], tokenizer: Any, ids: list[list[int]]) -> Example:
        sides = self.answers(record)
        per = len(ids) // len(sides)  # each side has the same pieces: prompt, answer, ..., tail
        split = [split_answer(ids[i * per : (i + 1) * per], tokenizer) for i in range(len(sides))]
        prompt, chosen = split[0]
        if any(p != prompt for p, _ in split[1:]):
            raise UserError(
                f"record {record.get('id', '?')}: the chat template renders the prompt differently before the "
                "chosen and the rejected answer"
            )
        example: Example = {
            "input_ids": prompt + chosen,
            "labels": [-100] * len(prompt) + chosen,
            "prompt_len": len(prompt),
        }
        if len(split) == 2:
            example["rejected_ids"] = split[1][1]
        else:
            example["kto_label"] = int(bool(record["label"]))
        return example

    def encode_batch(
        self, records: list[dict[str, Any]], tokenizer: Any, max_seq_len: int
    ) -> tuple[list[Example | None], Counter]:
        texts = [self.texts(r, tokenizer) for r in records]
        ids = token_ids(tokenizer, [t for ts in texts for t in ts], self.add_special_tokens)
        out: list[Example | None] = []
        counts: Counter = Counter()
        pos = 0
        for record, ts in zip(records, texts, strict=True):
            example = self.assemble(record, tokenizer, ids[pos : pos + len(ts)])
            pos += len(ts)
            out.append(truncate_pair(example, max_seq_len, self.cfg.truncate, counts))
        return out, counts


def _assistant(answer: str) -> dict[str, str]:
    return {"role": "assistant", "content": answer}


def split_answer(pieces: list[list[int]], tokenizer: Any) -> tuple[list[int], list[int]]:
    """(prompt ids, answer ids through its last EOS) from the token ids of one side's `chat_texts` pieces.

    >>> split_answer([[1, 2], [7, 8, 2, 5], []], tok)  # doctest: +SKIP   (eos id 2)
    ([1, 2], [7, 8, 2])
    """
    prompt = [t for piece in pieces[:-2] for t in piece]
    answer = list(pieces[-2])
    eos = eos_token_ids(tokenizer)
    ends = [j for j, t in enumerate(answer) if t in eos]
    if ends:
        return prompt, answer[: ends[-1] + 1]
    if tokenizer.eos_token_id is None:
        raise UserError("task preference needs a tokenizer with an EOS token (each answer ends with it)")
    return prompt, answer + [tokenizer.eos_token_id]  # a template that writes no EOS: the answer still ends


def answer_ids(example: Example) -> list[list[int]]:
    """The answers of an example: [chosen, rejected], or KTO's [completion]."""
    first = example["input_ids"][example["prompt_len"] :]
    return [first, example["rejected_ids"]] if "rejected_ids" in example else [first]


def truncate_pair(example: Example, max_seq_len: int, policy: str, counts: Counter) -> Example | None:
    """Cut the prompt from the left so that prompt + the longer answer fits; drop when it cannot.

    >>> truncate_pair({"input_ids": [1, 2, 3, 7], "labels": [-100, -100, -100, 7], "prompt_len": 3,
    ...                "rejected_ids": [8, 9]}, 4, "right", Counter())
    {'input_ids': [2, 3, 7], 'labels': [-100, -100, 7], 'prompt_len': 2, 'rejected_ids': [8, 9]}
    """
    p = example["prompt_len"]
    longest = max(len(a) for a in answer_ids(example))
    over = p + longest - max_seq_len
    if over <= 0:
        return example
    if policy == "drop" or over >= p:  # the answer alone fills the budget: no prompt token would remain
        counts["dropped"] += 1
        return None
    counts["truncated"] += 1
    counts["truncated_tokens"] += over
    return {
        **example,
        "input_ids": example["input_ids"][over:],
        "labels": example["labels"][over:],
        "prompt_len": p - over,
    }
