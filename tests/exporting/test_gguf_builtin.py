"""On the built-in SmolLM2-135M-Instruct after a short LoRA fine-tune: the exported GGUF answers as the run.

f16: greedy answers token-identical on all 6 prompts, logits within f16 rounding (measured max 0.039 on
logits up to 39). q8_0: most prompts (measured 4/6 equal at 48 new tokens, the other two share their
first 6-8 words; max logit difference 0.58); asserted >= 3 as training numerics vary between CPUs.
"""

from __future__ import annotations

import pytest
import torch

from lmforge.cli import main

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "How do I reset my password?",
    "Name three primary colors.",
    "What is 12 times 7?",
    "Give me one tip for better sleep.",
]


@pytest.mark.slow
def test_gguf_answers_like_the_fine_tuned_run(tmp_path, monkeypatch):
    from lmforge.inference.generation import generate, load_for_inference
    from training.train_helpers import write_sft_project

    monkeypatch.setenv("LMFORGE_HOME", str(tmp_path / "home"))  # the .gguf files convert afresh
    exp = write_sft_project(
        tmp_path,
        "smollm2-135m-instruct",
        n=16,
        max_steps=4,
        batch_size=2,
        lr=1e-3,
        eval_every=0,
        save_every=100,
        precision="auto",
        max_seq_len=64,
    )
    assert main(["train", str(exp)]) == 0
    run = tmp_path / "run"
    for quant in ("f16", "q8_0"):
        assert (
            main(["export", str(run), "--out", str(tmp_path / quant), "--format", "gguf", "--quant", quant])
            == 0
        )

    model, tok = load_for_inference(str(run))
    want = [g.text for g in generate(model, tok, PROMPTS, max_new_tokens=48)]
    ids = torch.tensor([tok(p)["input_ids"] for p in PROMPTS[:1]])
    with torch.no_grad():
        ref_logits = model(ids).logits
    del model

    f16, f16_tok = load_for_inference(str(tmp_path / "f16" / "model.gguf"))
    assert [f16_tok(p)["input_ids"] for p in PROMPTS] == [tok(p)["input_ids"] for p in PROMPTS]
    with torch.no_grad():
        diff = (f16(ids).logits - ref_logits).abs().max().item()
    assert diff < 0.1, diff
    assert [g.text for g in generate(f16, f16_tok, PROMPTS, max_new_tokens=48)] == want
    del f16

    q8, q8_tok = load_for_inference(str(tmp_path / "q8_0" / "model.gguf"))
    got = [g.text for g in generate(q8, q8_tok, PROMPTS, max_new_tokens=48)]
    same = sum(a == b for a, b in zip(got, want, strict=True))
    assert same >= 3, list(zip(got, want, strict=True))
