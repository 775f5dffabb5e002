"""Helpers for the GGUF export tests: more tiny architectures, and the weights a GGUF file should hold."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)


def build_tiny(kind: str, tokenizer_dir: str | Path, out: Path) -> Path:
    """A ~100k-parameter Qwen2 / Qwen3 / Mistral with the tokenizer of `tokenizer_dir` (byte-level BPE).

    Mistral is untied (an output.weight tensor); Qwen3 has head_dim 128 != hidden/heads, written as
    attention.key_length (transformers' GGUF reader ignores that key and takes Qwen3Config's default,
    128, so only that value round-trips there; llama.cpp reads it).
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    sizes = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    extra = {
        "qwen2": {"num_key_value_heads": 2, "tie_word_embeddings": True},
        "qwen3": {"num_key_value_heads": 2, "head_dim": 128, "tie_word_embeddings": True},
        "mistral": {"num_key_value_heads": 2, "tie_word_embeddings": False, "sliding_window": None},
    }[kind]
    config = AutoConfig.for_model(
        kind,
        vocab_size=len(tok),
        max_position_embeddings=512,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        **sizes,
        **extra,
    )
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():  # random biases, so the exported q/k/v biases are checked too
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.02)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (Path(tokenizer_dir) / name).is_file():
            shutil.copy(Path(tokenizer_dir) / name, out / name)
    return out


def f16_stored(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """What an f16 GGUF holds for an HF tensor: matrices rounded to float16; vectors and GPT-2's
    position embeddings (kept F32, as llama.cpp does) exactly."""
    if tensor.ndim >= 2 and not name.endswith("wpe.weight"):
        return tensor.half().float()
    return tensor


def f16_rounded_model(folder: str | Path):
    """The HF model of `folder` with its weights rounded as an f16 GGUF stores them."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(f16_stored(name, p))
    return model
