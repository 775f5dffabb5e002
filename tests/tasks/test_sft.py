"""sft: each record format gives exactly the hand-written tokens and an assistant-only loss mask."""

from __future__ import annotations

import pytest
from task_helpers import CHATML_SYSTEM, chatml, expected, fallback

from lmforge.config import TaskConfig
from lmforge.errors import UserError
from lmforge.tasks import get_task

RECORD = {
    "prompt": "How do I reset my password?",
    "response": "Click Forgot password.",
    "id": "t.jsonl:1",
    "meta": {"source": "t.jsonl"},
}


def test_prompt_response_on_chatml(llama_tok):
    ex = get_task(TaskConfig(type="sft")).encode(RECORD, llama_tok, 512)
    ids, labels = expected(
        llama_tok,
        [(chatml(RECORD["prompt"]), False), ("Click Forgot password.<|im_end|>", True), ("\n", False)],
    )
    assert ex == {"input_ids": ids, "labels": labels}
    assert (
        labels[-2] == llama_tok.eos_token_id == 2
    )  # EOS ends the turn and carries loss; "\n" after it does not


def test_prompt_response_on_gpt2_fallback(gpt2_tok):
    ex = get_task(TaskConfig(type="sft")).encode(RECORD, gpt2_tok, 512)
    ids, labels = expected(
        gpt2_tok,
        [(fallback(RECORD["prompt"]), False), ("Click Forgot password.<|endoftext|>", True), ("\n\n", False)],
    )
    assert ex == {"input_ids": ids, "labels": labels}
    assert gpt2_tok.eos_token_id in ex["labels"]


def test_alpaca_with_system_and_train_on_prompt(llama_tok):
    rec = {"instruction": "Translate to French", "input": "cat", "output": "chat", "system": "Be brief."}
    ex = get_task(TaskConfig(type="sft")).encode(rec, llama_tok, 512)
    ids, labels = expected(
        llama_tok,
        [(chatml("Translate to French\n\ncat", "Be brief."), False), ("chat<|im_end|>", True), ("\n", False)],
    )
    assert ex == {"input_ids": ids, "labels": labels}
    all_loss = get_task(TaskConfig(type="sft", train_on_prompt=True)).encode(rec, llama_tok, 512)
    assert all_loss == {"input_ids": ids, "labels": ids}


@pytest.mark.parametrize(
    "turns",
    [
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "See you."},
        ],
        [
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello!"},
            {"from": "human", "value": "Bye"},
            {"from": "gpt", "value": "See you."},
        ],
    ],
)
def test_multi_turn_trains_every_assistant_turn(llama_tok, turns):
    ex = get_task(TaskConfig(type="sft")).encode({"messages": turns}, llama_tok, 512)
    ids, labels = expected(
        llama_tok,
        [
            (chatml("Hi"), False),
            ("Hello!<|im_end|>", True),
            ("\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", False),
            ("See you.<|im_end|>", True),
            ("\n", False),
        ],
    )
    assert ex == {"input_ids": ids, "labels": labels}
    assert ex["labels"].count(llama_tok.eos_token_id) == 2


def test_template_from_yaml_and_truncation(llama_tok):
    task = get_task(TaskConfig(type="sft", template="Q: {prompt}"))
    assert task.to_messages(RECORD)[0]["content"] == "Q: How do I reset my password?"
    assert (
        task.encode(RECORD, llama_tok, 512)["input_ids"]
        == expected(
            llama_tok,
            [(chatml("Q: How do I reset my password?") + "Click Forgot password.<|im_end|>\n", False)],
        )[0]
    )
    full = get_task(TaskConfig(type="sft")).encode(RECORD, llama_tok, 512)
    n = len(full["input_ids"])
    left = get_task(TaskConfig(type="sft", truncate="left")).encode(RECORD, llama_tok, n - 3)
    assert left == {k: v[3:] for k, v in full.items()}
    assert get_task(TaskConfig(type="sft", truncate="drop")).encode(RECORD, llama_tok, n - 1) is None
    # right truncation that cuts away every trained token leaves nothing to learn: dropped
    assert get_task(TaskConfig(type="sft")).encode(RECORD, llama_tok, 10) is None


def test_missing_field_is_one_line_error(llama_tok):
    with pytest.raises(UserError, match="record x has no field 'response'"):
        get_task(TaskConfig(type="sft")).encode({"prompt": "p", "id": "x"}, llama_tok, 512)
    with pytest.raises(UserError, match=r"slot \{question\}"):
        get_task(TaskConfig(type="sft", template="{question}")).encode(RECORD, llama_tok, 512)


def test_conversation_opening_with_the_assistant_trains_only_answers(llama_tok):
    turns = [
        {"role": "assistant", "content": "Welcome!"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    ex = get_task(TaskConfig(type="sft")).encode({"messages": turns}, llama_tok, 512)
    ids, labels = expected(
        llama_tok,
        [
            (
                CHATML_SYSTEM + "<|im_start|>assistant\nWelcome!<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                "<|im_start|>assistant\n",
                False,
            ),
            ("Hello!<|im_end|>", True),
            ("\n", False),
        ],
    )
    assert ex == {"input_ids": ids, "labels": labels}


def test_sharegpt_role_names_of_every_export():
    from lmforge.tasks.sft import conversation

    turns = [
        {"from": "system", "value": "Be kind."},
        {"from": "Human", "value": "a"},
        {"from": "gpt", "value": "b"},
        {"from": "user", "value": "c"},
        {"from": "chatgpt", "value": "d"},
        {"from": "human", "value": "e"},
        {"from": "bing", "value": "f"},
        {"from": "human", "value": "g"},
        {"from": "bard", "value": "h"},
        {"role": "user", "content": "i"},
        {"role": "model", "content": "j"},
    ]
    roles = [m["role"] for m in conversation({"messages": turns})]
    assert roles == ["system"] + ["user", "assistant"] * 5


def test_unknown_role_is_one_line_naming_it():
    from lmforge.tasks.sft import conversation

    with pytest.raises(
        UserError, match=r"record r:1: turn 1 needs a known role and content \(got 'narrator'"
    ):
        conversation(
            {"id": "r:1", "messages": [{"from": "human", "value": "a"}, {"from": "narrator", "value": "b"}]}
        )
