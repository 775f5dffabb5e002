"""qa and summarization: the default prompt templates, exact token ids and loss mask."""

from __future__ import annotations

from task_helpers import chatml, expected, fallback

from lmforge.config import TaskConfig
from lmforge.tasks import get_task

QA = {
    "context": "The office is in Berlin.",
    "question": "Where is the office?",
    "answer": "In Berlin.",
    "id": "qa.jsonl:3",
    "meta": {},
}
SUM = {
    "document": "The router failed. A restart fixed it. The customer was happy.",
    "summary": "A restart fixed the router.",
    "id": "s.csv:row7",
    "meta": {},
}


def test_qa_on_chatml(llama_tok):
    user = "Answer the question using the context.\n\nContext: The office is in Berlin.\n\nQuestion: Where is the office?"
    ex = get_task(TaskConfig(type="qa")).encode(QA, llama_tok, 512)
    assert ex == dict(
        zip(
            ("input_ids", "labels"),
            expected(llama_tok, [(chatml(user), False), ("In Berlin.<|im_end|>", True), ("\n", False)]),
            strict=True,
        )
    )


def test_qa_custom_template_on_gpt2(gpt2_tok):
    task = get_task(TaskConfig(type="qa", template="{context}\nQuestion: {question}", system="Be brief."))
    ex = task.encode(QA, gpt2_tok, 512)
    user = "The office is in Berlin.\nQuestion: Where is the office?"
    assert ex == dict(
        zip(
            ("input_ids", "labels"),
            expected(
                gpt2_tok,
                [(fallback(user, "Be brief."), False), ("In Berlin.<|endoftext|>", True), ("\n\n", False)],
            ),
            strict=True,
        )
    )


def test_summarization_on_both(llama_tok, gpt2_tok):
    user = f"Summarize the following document.\n\n{SUM['document']}"
    task = get_task(TaskConfig(type="summarization"))
    assert task.encode(SUM, llama_tok, 512) == dict(
        zip(
            ("input_ids", "labels"),
            expected(
                llama_tok,
                [(chatml(user), False), ("A restart fixed the router.<|im_end|>", True), ("\n", False)],
            ),
            strict=True,
        )
    )
    assert task.encode(SUM, gpt2_tok, 512) == dict(
        zip(
            ("input_ids", "labels"),
            expected(
                gpt2_tok,
                [
                    (fallback(user), False),
                    ("A restart fixed the router.<|endoftext|>", True),
                    ("\n\n", False),
                ],
            ),
            strict=True,
        )
    )
    assert task.target(SUM) == "A restart fixed the router."
