"""classification: label word as the answer (head lm), or a class index (head classifier)."""

from __future__ import annotations

import json

import pytest
from task_helpers import chatml, expected

from lmforge.config import TaskConfig
from lmforge.errors import UserError
from lmforge.formatting.templates import encode_prompt
from lmforge.tasks import get_task, resolve_labels

REC = {"text": "I love this phone", "label": "positive", "id": "r.jsonl:9", "meta": {}}
LABELS = ["negative", "neutral", "positive"]


def test_head_lm_label_word_is_the_trained_answer(llama_tok):
    ex = get_task(TaskConfig(type="classification", labels=LABELS)).encode(REC, llama_tok, 512)
    user = "Classify the text as one of: negative, neutral, positive.\n\nText: I love this phone"
    assert ex == dict(
        zip(
            ("input_ids", "labels"),
            expected(llama_tok, [(chatml(user), False), ("positive<|im_end|>", True), ("\n", False)]),
            strict=True,
        )
    )


def test_head_classifier_gives_prompt_and_index(llama_tok):
    task = get_task(TaskConfig(type="classification", head="classifier", labels=LABELS))
    ex = task.encode(REC, llama_tok, 512)
    user = "Classify the text as one of: negative, neutral, positive.\n\nText: I love this phone"
    assert ex == {"input_ids": expected(llama_tok, [(chatml(user), False)])[0], "label": 2}
    assert ex["input_ids"] == encode_prompt(llama_tok, task.prompt_messages(REC))  # what inference feeds
    with pytest.raises(UserError, match="label 'spam' is not in task.labels"):
        task.encode({**REC, "label": "spam"}, llama_tok, 512)


def test_label_set_from_train_split(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text": "t", "label": x}) + "\n" for x in ["b", "a", "b", 1]))
    assert resolve_labels(None, train) == ["1", "a", "b"]
    assert resolve_labels(["z"], train) == ["z"]
    assert resolve_labels(None, tmp_path / "absent.jsonl") is None
    with pytest.raises(UserError, match="needs a label set"):
        get_task(TaskConfig(type="classification")).to_messages(REC)


def test_custom_template_without_label_slot_needs_no_label_set(llama_tok):
    task = get_task(TaskConfig(type="classification", template="Sentiment of: {text}"))
    assert task.to_messages(REC)[-2:] == [
        {"role": "user", "content": "Sentiment of: I love this phone"},
        {"role": "assistant", "content": "positive"},
    ]
