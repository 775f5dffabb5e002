"""Shared fixtures: tiny random models built in-process (no downloads), both architectures.

- `tiny_llama`: Llama architecture with the built-in model's real tokenizer and chat template.
- `tiny_gpt2`: GPT-2 (Conv1D layers), byte-level BPE trained here, no chat template, pad unset.
- `tiny_model`: parametrised over both, so a test using it runs on each.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> str:
    from tiny_models import build_tiny_llama

    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny-llama")))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> str:
    from tiny_models import build_tiny_gpt2

    return str(build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(params=["tiny_llama", "tiny_gpt2"])
def tiny_model(request) -> str:
    """Path of a tiny model folder; the test runs once per architecture."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def builtin_model():
    """The built-in SmolLM2-135M-Instruct (model, tokenizer); only for tests marked slow."""
    from lmforge.inference.generation import load_for_inference

    return load_for_inference("smollm2-135m-instruct")
