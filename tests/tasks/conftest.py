"""Fixtures of the task tests: the fixtures' tokenizers, ready for chat rendering."""

from __future__ import annotations

import pytest

from lmforge.models import load_tokenizer


@pytest.fixture
def llama_tok(tiny_llama):
    return load_tokenizer(tiny_llama)


@pytest.fixture
def gpt2_tok(tiny_gpt2):
    from lmforge.formatting.templates import ensure_chat_template

    return ensure_chat_template(load_tokenizer(tiny_gpt2))
