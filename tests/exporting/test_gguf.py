"""`lmforge export --format gguf`: the file loads back in transformers and in lmforge as the same model.

At f16 every matrix comes back as the source rounded to float16 and every vector exactly (so Q/K were
permuted and un-permuted, GPT-2's Conv1D transposed and back); logits stay within f16 rounding of the
source's; greedy answers equal the f16-rounded source's token for token. q8_0 stays within its block
error. The tensors are those llama.cpp's own converter writes (its source from node-llama-cpp's bundle,
see llama_cpp_node.py; or the tree LMFORGE_LLAMA_CPP names).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf_helpers import f16_rounded_model, f16_stored
from llama_cpp_node import converter

from lmforge.cli import main
from lmforge.exporting.gguf import permute_qk
from lmforge.exporting.gguf_vocab import _LLAMA3_SPLIT, pre_tokenizer

IDS = torch.tensor([[5, 17, 42, 99, 7, 3, 200, 11, 64, 1]])
PROMPTS = ["Hello there", "What is the capital of France?", "Reset my password please"]


def _load_gguf(out: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(out, gguf_file="model.gguf").eval()


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(IDS).logits  # (1, T, V)


@pytest.mark.parametrize("arch", ["tiny_llama", "tiny_gpt2", "qwen2", "qwen3", "mistral"])
def test_f16_round_trip_in_transformers(arch, request, more_archs, gguf_of):
    from transformers import AutoModelForCausalLM

    src = request.getfixturevalue(arch) if arch.startswith("tiny") else more_archs[arch]
    out = gguf_of(src)
    loaded, source = _load_gguf(out), AutoModelForCausalLM.from_pretrained(src).eval()
    got, want = loaded.state_dict(), source.state_dict()
    assert set(got) == set(want)
    for name, tensor in want.items():
        assert torch.equal(got[name], f16_stored(name, tensor)), name
    assert loaded.config.tie_word_embeddings == source.config.tie_word_embeddings
    diff = (_logits(loaded) - _logits(source)).abs().max().item()
    assert diff < 2e-3, diff  # measured 2e-4 .. 4e-4 on these models (logits of magnitude ~1)


def test_f16_generation_in_lmforge_equals_source(tiny_model, gguf_of, tmp_path, monkeypatch):
    """`lmforge generate --model DIR/model.gguf` path: models.py converts the file once, then generates."""
    from lmforge.formatting.templates import ensure_chat_template
    from lmforge.inference.generation import generate, load_for_inference
    from lmforge.models import load_tokenizer

    monkeypatch.setenv("LMFORGE_HOME", str(tmp_path / "home"))
    out = gguf_of(tiny_model)
    model, tok = load_for_inference(str(out / "model.gguf"))
    ref, ref_tok = f16_rounded_model(tiny_model), load_tokenizer(tiny_model)
    for text in PROMPTS + ["12345 and 678, ok?"]:
        assert tok(text)["input_ids"] == ref_tok(text)["input_ids"], text
    got = generate(model, tok, PROMPTS, max_new_tokens=12)
    want = generate(ref, ref_tok, PROMPTS, max_new_tokens=12)
    assert [g.text for g in got] == [w.text for w in want]
    assert tok.chat_template == ensure_chat_template(ref_tok).chat_template  # GPT-2: the fallback, written
    assert main(["generate", "--model", str(out / "model.gguf"), "--max-new-tokens", "4", "Hi"]) == 0


def test_q8_0_within_block_error(tiny_llama, gguf_of):
    from gguf import GGMLQuantizationType, GGUFReader
    from transformers import AutoModelForCausalLM

    f16 = gguf_of(tiny_llama)
    q8 = gguf_of(tiny_llama, "q8_0")
    tensors = GGUFReader(q8 / "model.gguf").tensors
    types = {t.name: t.tensor_type for t in tensors}
    assert types["blk.0.attn_q.weight"] == GGMLQuantizationType.Q8_0
    assert types["token_embd.weight"] == GGMLQuantizationType.Q8_0
    assert types["blk.0.attn_norm.weight"] == GGMLQuantizationType.F32
    f16_bytes = sum(t.n_bytes for t in GGUFReader(f16 / "model.gguf").tensors)
    assert sum(t.n_bytes for t in tensors) < 0.6 * f16_bytes  # 34 bytes per 32 values instead of 64
    loaded, source = _load_gguf(q8), AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    for name, tensor in source.state_dict().items():
        if tensor.ndim == 2:  # Q8_0: one scale per 32 values, 8-bit steps of max|block|/127
            blocks = tensor.reshape(-1, 32)
            bound = blocks.abs().amax(dim=1, keepdim=True) / 127 * 0.6 + 1e-7  # half a step, + the f16 scale
            err = (loaded.state_dict()[name].reshape(-1, 32) - blocks).abs()
            assert (err <= bound).all(), name
    assert (_logits(loaded) - _logits(source)).abs().max().item() < 2e-2


def test_lora_run_exports_merged_weights(tiny_llama, tmp_path):
    from transformers import AutoModelForCausalLM

    from lmforge.training.run import train
    from training.train_helpers import fake_examples, make_cfg, stand_in_collate

    run = tmp_path / "run"
    cfg = make_cfg(tiny_llama, str(run), "train.max_steps=3", "train.lr=1e-2", "model.lora.dropout=0")
    train(cfg, data=(fake_examples(12, vocab=250, seed=3), []), collate=stand_in_collate)
    assert main(["export", str(run), "--out", str(tmp_path / "merged"), "--merge"]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "gguf"), "--format", "gguf"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    loaded = _load_gguf(tmp_path / "gguf")
    for name, tensor in merged.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], f16_stored(name, tensor)), name
    assert not torch.allclose(_logits(merged), _logits(base), atol=1e-3)  # the adapter changed something
    assert sorted(p.name for p in (tmp_path / "gguf").glob("[!.]*")) == [
        "Modelfile",
        "SHA256SUMS",
        "model.gguf",
    ]
    assert not list(tmp_path.glob(".merge-*"))  # the scratch merge folder is gone


def test_permute_is_undone_by_transformers():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.random.default_rng(0).standard_normal((8 * 6, 5)).astype(np.float32)  # 8 heads of 6 rows
    permuted = permute_qk(w, 8)
    assert not np.array_equal(permuted, w)
    assert np.array_equal(LlamaTensorProcessor()._reverse_permute_weights(permuted, 8, 8), w)


def test_pre_tokenizer_names(tiny_llama, tiny_gpt2):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    assert pre_tokenizer(AutoTokenizer.from_pretrained(tiny_gpt2)) == "gpt-2"
    assert (
        pre_tokenizer(AutoTokenizer.from_pretrained(tiny_llama)) == "gpt-2"
    )  # as lmforge's tokenizer splits
    digits = Tokenizer(models.BPE())
    digits.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    assert pre_tokenizer(PreTrainedTokenizerFast(tokenizer_object=digits)) == "smollm"
    llama3 = Tokenizer(models.BPE())
    llama3.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_LLAMA3_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    assert pre_tokenizer(PreTrainedTokenizerFast(tokenizer_object=llama3)) == "llama-bpe"
    spm = Tokenizer(models.BPE(byte_fallback=True))
    spm.pre_tokenizer = pre_tokenizers.Metaspace()
    with pytest.raises(Exception, match="byte-level BPE"):
        pre_tokenizer(PreTrainedTokenizerFast(tokenizer_object=spm))


def test_user_errors(tiny_llama, tmp_path, capsys):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    neox = tmp_path / "neox"
    GPTNeoXForCausalLM(
        GPTNeoXConfig(
            vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
        )
    ).save_pretrained(neox)
    assert main(["export", str(neox), "--out", str(tmp_path / "a"), "--format", "gguf"]) == 2
    err = capsys.readouterr().err.strip()
    assert "gpt_neox" in err and "--format hf" in err and len(err.splitlines()) == 1
    assert main(["export", tiny_llama, "--out", str(tmp_path / "b"), "--quant", "q8_0"]) == 2
    assert "--format gguf" in capsys.readouterr().err


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_tensors_equal_llama_cpp_converter(tiny_llama, quant, gguf_of, tmp_path):
    """Byte for byte the tensors llama.cpp's own convert_hf_to_gguf.py writes (its tokenizer fields too)."""
    from gguf import GGUFReader

    script = converter()
    ref = tmp_path / "ref.gguf"
    subprocess.run(
        [sys.executable, str(script), tiny_llama, "--outtype", quant, "--outfile", str(ref)],
        check=True,
        capture_output=True,
    )
    ours = GGUFReader(gguf_of(tiny_llama, quant) / "model.gguf")
    theirs = GGUFReader(ref)
    mine = {t.name: t for t in ours.tensors}
    assert set(mine) == {t.name for t in theirs.tensors}
    for t in theirs.tensors:
        assert mine[t.name].tensor_type == t.tensor_type, t.name
        assert np.array_equal(np.asarray(mine[t.name].data), np.asarray(t.data)), t.name
    for key in (
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type",
        "tokenizer.ggml.merges",
        "tokenizer.ggml.eos_token_id",
        "tokenizer.chat_template",
        "llama.rope.dimension_count",
    ):
        assert ours.fields[key].contents() == theirs.fields[key].contents(), key
