"""causal_lm: every token carries loss, each document ends with EOS, long documents are chunked."""

from __future__ import annotations

from lmforge.config import TaskConfig
from lmforge.tasks import get_task
from lmforge.tasks.causal_lm import chunk

DOC = {"text": "Please restart the router and try again.", "id": "docs/a.txt:1", "meta": {}}


def test_text_plus_eos_all_trained(llama_tok, gpt2_tok):
    for tok in (llama_tok, gpt2_tok):
        ex = get_task(TaskConfig(type="causal_lm")).encode(DOC, tok, 512)
        ids = tok(DOC["text"])["input_ids"] + [tok.eos_token_id]
        assert ex == {"input_ids": ids, "labels": ids}


def test_truncate_and_chunk(llama_tok):
    full = get_task(TaskConfig(type="causal_lm")).encode(DOC, llama_tok, 512)
    assert get_task(TaskConfig(type="causal_lm", truncate="left")).encode(DOC, llama_tok, 3) == {
        k: v[-3:] for k, v in full.items()
    }
    pieces = chunk(full, 3)
    assert [t for p in pieces for t in p["input_ids"]] == full["input_ids"]
    assert all(len(p["input_ids"]) <= 3 for p in pieces)
