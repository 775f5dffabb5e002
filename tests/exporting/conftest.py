"""Fixtures of the GGUF export tests: the tiny models of more architectures, and their f16 exports, written once
per session and only read by the tests (transformers' round trip, lmforge generate, llama.cpp)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_helpers import build_tiny

from lmforge.exporting.hf import export


@pytest.fixture(scope="session")
def more_archs(tiny_gpt2, tmp_path_factory):
    root = tmp_path_factory.mktemp("archs")
    return {
        kind: str(build_tiny(kind, tiny_gpt2, root / f"tiny-{kind}"))
        for kind in ("qwen2", "qwen3", "mistral")
    }


@pytest.fixture(scope="session")
def gguf_of(tmp_path_factory):
    """gguf_of(src, quant="f16") -> the folder of `export(src, format="gguf", quant=quant)`, written once per
    session (the 49k-token vocabulary of the tiny Llama makes each export take seconds)."""
    folders: dict[tuple[str, str], Path] = {}

    def get(src: str, quant: str = "f16") -> Path:
        if (src, quant) not in folders:
            folders[src, quant] = export(
                src, tmp_path_factory.mktemp(quant) / "gguf", format="gguf", quant=quant
            )
        return folders[src, quant]

    return get
