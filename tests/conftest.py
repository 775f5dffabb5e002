"""Shared fixtures: tiny random models built in-process (no downloads), both architectures.

- `tiny_llama`: Llama architecture with the built-in model's real tokenizer and chat template.
- `tiny_gpt2`: GPT-2 (Conv1D layers), byte-level BPE trained here, no chat template, pad unset.
- `tiny_model`: parametrised over both, so a test using it runs on each.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

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


# `lmforge demo`, shortened: 16 steps instead of an epoch (measured: val loss 3.66 -> 2.09, test loss 3.71 ->
# 2.12, ROUGE-L 0.156 -> 0.270 on 8 generations; 30 steps gave 1.63 and 0.329), no mid-run val pass.
DEMO_OVERRIDES = ["train.max_steps=16", "train.eval_every=0", "eval.generate_n=8", "eval.max_new_tokens=64"]


@pytest.fixture(scope="session")
def builtin_demo(tmp_path_factory) -> tuple[int, str, Path]:
    """One LoRA fine-tune of the built-in model for the whole session, by `lmforge demo` on the repo's
    support-bot example: (exit code, what it printed, the run folder). Only for tests marked slow: the demo's
    verdict (tests/cli/test_demo_builtin.py), the val loss and the adapter's portable base
    (tests/training/test_builtin_slow.py)."""
    from lmforge.cli.demo import REPO_EXAMPLE
    from lmforge.cli.main import main

    root = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.chdir(root)
        code = main(["demo", "--example", str(REPO_EXAMPLE), *DEMO_OVERRIDES])
    return code, printed.getvalue(), root / "runs" / "demo"
