"""Tiny randomly initialised models built in-process, for tests, notebooks and smoke benchmarks.

- `llama`: the built-in model's architecture (LlamaForCausalLM) at toy size, with the built-in model's
  real tokenizer and chat template (pad == eos, as in the real one).
- `gpt2`: GPT2LMHeadModel (Conv1D layers) with a byte-level BPE tokenizer trained here on a small
  text; no chat template and no pad token, like the classic GPT-2 checkpoints.
"""

from __future__ import annotations

from pathlib import Path

GPT2_CORPUS = (
    "The quick brown fox jumps over the lazy dog. A support ticket asks how to reset a password. "
    "Please restart the router and try again. The capital of France is Paris. Thank you for your help! "
    "What is the answer? Yes. No. positive negative neutral. Summarize the document in one sentence. "
    "Question: where is the office? Answer: in Berlin. 0123456789 email phone order refund shipping."
)


def build_tiny_llama(out_dir: str | Path, seed: int = 0) -> Path:
    """Save a ~3M-parameter Llama with the built-in tokenizer into out_dir; returns the folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from lmforge.models import BUILTIN_ALIAS, load_tokenizer

    tokenizer = load_tokenizer(BUILTIN_ALIAS)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    return _save(model, tokenizer, out_dir)


def build_tiny_gpt2(out_dir: str | Path, seed: int = 0) -> Path:
    """Save a tiny GPT-2 (Conv1D layers, no chat template, pad token unset) into out_dir."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator([GPT2_CORPUS] * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=1024,
        n_embd=64,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    return _save(model, tokenizer, out_dir)


def _save(model, tokenizer, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


BUILDERS = {"llama": build_tiny_llama, "gpt2": build_tiny_gpt2}


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SMALL = {  # shared by every decoder below: 2 layers, 4 query heads over 2 key/value heads of 8 dims
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "max_position_embeddings": 512,
}
# model_type -> the config options that give it its quirks (soft-capping, logits scaling, sliding windows)
ARCHITECTURES: dict[str, dict] = {
    "llama": {},
    "qwen2": {},
    "qwen3": {},
    "mistral": {"sliding_window": 4096},
    "gemma2": {"final_logit_softcapping": 30.0, "attn_logit_softcapping": 50.0, "query_pre_attn_scalar": 8},
    "gemma3_text": {"final_logit_softcapping": 30.0, "query_pre_attn_scalar": 8},
    "phi3": {"pad_token_id": 0},
    "granite": {"logits_scaling": 8.0, "residual_multiplier": 0.5, "embedding_multiplier": 2.0},
    "cohere": {"logit_scale": 0.0625},
    "gpt_neox": {"rotary_pct": 0.25},
    "gpt2": {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 512},
}


def chat_tokenizer():
    """The tiny GPT-2 BPE with ChatML turn markers and a chat template (a small vocabulary for every arch)."""
    import tempfile

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        build = build_tiny_gpt2(tmp)
        tokenizer = AutoTokenizer.from_pretrained(build)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.chat_template = CHATML
    return tokenizer


def build_tiny(model_type: str, out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random causal LM of `model_type` (a key of ARCHITECTURES) with a chat tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = chat_tokenizer()
    options = dict(ARCHITECTURES[model_type])
    base = {} if model_type == "gpt2" else dict(_SMALL)
    if model_type == "gpt_neox":
        base.pop("num_key_value_heads")
        base.pop("head_dim")
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **{**base, **options},
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    return _save(model, tokenizer, out_dir)
