"""`lmforge export --format gguf` run by llama.cpp itself (node-llama-cpp's prebuilt llama.cpp, CPU; installed by
`make llama`, see llama_cpp_node.py), against transformers on the same weights.

f16, five architectures, four prompts of random token ids: llama.cpp's logits after the prompt within 2e-3 of
transformers' on the f16-rounded source (measured 1.7e-4 to 4.6e-4), and its 16 greedy ids
equal transformers' on every prompt. The tiny Llama's conversations, rendered by llama.cpp from the chat
template stored in the GGUF (node-llama-cpp's Jinja wrapper) and tokenised by llama.cpp's tokenizer, are
lmforge's prompt ids, and llama.cpp's greedy answers to them are `lmforge generate`'s. q8_0 (llama.cpp also
rounds the activations to 8 bits there): logits within 0.05 of transformers' on the dequantized weights
(measured 5.8e-3 on the tiny Llama), greedy ids equal on at least 3 of the 4 prompts (measured 4 of 4; also
4 of 4 for each of the other four architectures in a trial run).
"""

from __future__ import annotations

import pytest
import torch
from gguf_helpers import f16_rounded_model
from llama_cpp_node import run_llama_cpp

ARCHS = ["tiny_llama", "tiny_gpt2", "qwen2", "qwen3", "mistral"]
CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Reset my password"}],
    [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "12345 and 678, ok?"},
    ],
]
NEW = 16


def _random_prompts(vocab: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(3, min(vocab, 500), (10,), generator=g).tolist() for _ in range(4)]


def _greedy(model, prompt: list[int]) -> tuple[list[int], torch.Tensor]:
    """transformers' NEW greedy ids after `prompt` (EOS included, so as many as llama.cpp may give), and the
    logits after the prompt (V,)."""
    x = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(x, max_new_tokens=NEW, do_sample=False, min_new_tokens=NEW, pad_token_id=0)
        return out[0, x.shape[1] :].tolist(), model(x).logits[0, -1]


def _compare(model, prompts: list[list[int]], answer: dict) -> tuple[float, list[bool]]:
    """(max |logit difference| after the prompts, whether llama.cpp's greedy ids equal transformers', per
    prompt); llama.cpp stops at an end-of-generation id, so its ids are compared with as many of ours."""
    diffs, same = [], []
    for prompt, got in zip(prompts, answer["generations"], strict=True):
        want, logits = _greedy(model, prompt)
        diffs.append((logits - torch.tensor(got["logits"])).abs().max().item())
        same.append(
            got["tokens"] == want[: len(got["tokens"])] and (got["finished"] or len(got["tokens"]) == NEW)
        )
    return max(diffs), same


@pytest.mark.parametrize("arch", ARCHS)
def test_f16_in_llama_cpp_equals_transformers(arch, request, more_archs, gguf_of):
    src = request.getfixturevalue(arch) if arch.startswith("tiny") else more_archs[arch]
    ref = f16_rounded_model(src)
    prompts = _random_prompts(ref.config.vocab_size)
    answer = run_llama_cpp(gguf_of(src) / "model.gguf", prompts, max_new_tokens=NEW, logits=True)
    diff, same = _compare(ref, prompts, answer)
    assert diff < 2e-3, diff
    assert all(same), same


def test_chat_template_in_llama_cpp(tiny_llama, gguf_of):
    from lmforge.formatting.templates import encode_prompt
    from lmforge.inference.generation import generate
    from lmforge.models import load_tokenizer

    tok = load_tokenizer(tiny_llama)
    answer = run_llama_cpp(gguf_of(tiny_llama) / "model.gguf", CHATS, max_new_tokens=NEW)
    assert [g["prompt"] for g in answer["generations"]] == [encode_prompt(tok, c) for c in CHATS]
    want = generate(f16_rounded_model(tiny_llama), tok, CHATS, max_new_tokens=NEW)
    assert [g["tokens"] for g in answer["generations"]] == [w.ids for w in want]


def test_q8_0_in_llama_cpp_near_transformers(tiny_llama, gguf_of):
    from transformers import AutoModelForCausalLM

    q8 = gguf_of(tiny_llama, "q8_0")
    ref = AutoModelForCausalLM.from_pretrained(q8, gguf_file="model.gguf").eval()  # dequantized weights
    prompts = _random_prompts(ref.config.vocab_size)
    answer = run_llama_cpp(q8 / "model.gguf", prompts, max_new_tokens=NEW, logits=True)
    diff, same = _compare(ref, prompts, answer)
    assert diff < 0.05, diff
    assert sum(same) >= 3, same
