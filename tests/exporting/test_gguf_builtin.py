"""On the built-in SmolLM2-135M-Instruct after a short LoRA fine-tune: the exported GGUF answers as the run.

f16: logits within f16 rounding (measured max 0.039 on logits up to 39); fed the run's own greedy answers,
it picks the run's token at every position where the run's top two logits are more than 0.2 apart (a
closer tie may flip under rounding, and then the rest of a free-running answer differs: measured 5 or 6 of
the 6 greedy answers equal, depending on the CPU's training numerics). q8_0: most prompts (measured 4/6
equal at 48 new tokens, the other two share their first 6-8 words; max logit difference 0.58); asserted
>= 3.
"""

from __future__ import annotations

from pathlib import Path

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
    from lmforge.formatting.templates import encode_prompt, to_messages
    from lmforge.inference.generation import generate, load_for_inference
    from lmforge.models import resolve_model
    from training.train_helpers import write_sft_project

    # The exported .gguf files convert into a home of this test's own; the built-in model's conversion (the
    # same files whichever home holds them) is linked in from the usual home rather than redone here.
    built_in = Path(resolve_model("smollm2-135m-instruct"))
    (tmp_path / "home" / "models").mkdir(parents=True)
    (tmp_path / "home" / "models" / built_in.name).symlink_to(built_in)
    monkeypatch.setenv("LMFORGE_HOME", str(tmp_path / "home"))
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
    greedy = generate(model, tok, PROMPTS, max_new_tokens=48)
    want = [g.text for g in greedy]
    ids = torch.tensor([tok(p)["input_ids"] for p in PROMPTS[:1]])
    with torch.no_grad():
        ref_logits = model(ids).logits
    prompts = [encode_prompt(tok, to_messages(p)) for p in PROMPTS]
    answers = [(len(p), p + g.ids) for p, g in zip(prompts, greedy, strict=True)]  # (prompt length, ids)

    f16, f16_tok = load_for_inference(str(tmp_path / "f16" / "model.gguf"))
    assert [f16_tok(p)["input_ids"] for p in PROMPTS] == [tok(p)["input_ids"] for p in PROMPTS]
    with torch.no_grad():
        diff = (f16(ids).logits - ref_logits).abs().max().item()
    assert diff < 0.1, diff
    assert _flips(model, f16, answers, margin=0.2) == []
    got = [g.text for g in generate(f16, f16_tok, PROMPTS, max_new_tokens=48)]
    assert sum(a == b for a, b in zip(got, want, strict=True)) >= 4, list(zip(got, want, strict=True))
    del f16, model

    q8, q8_tok = load_for_inference(str(tmp_path / "q8_0" / "model.gguf"))
    got = [g.text for g in generate(q8, q8_tok, PROMPTS, max_new_tokens=48)]
    same = sum(a == b for a, b in zip(got, want, strict=True))
    assert same >= 3, list(zip(got, want, strict=True))


def _flips(ref, other, answers: list[tuple[int, list[int]]], margin: float) -> list[tuple[int, int]]:
    """(answer, position) where `other`, fed ref's answer, predicts another next token than ref does
    although ref's top two logits there are more than `margin` apart."""
    flips = []
    for i, (start, seq) in enumerate(answers):
        x = torch.tensor([seq])
        with torch.no_grad():
            a = ref(x).logits[0, start - 1 : -1].float()  # the predictions of the answer's tokens
            b = other(x).logits[0, start - 1 : -1].float()
        top = a.topk(2, dim=-1).values
        sure = (top[:, 0] - top[:, 1]) > margin
        flips += [(i, int(j)) for j in torch.nonzero(sure & (a.argmax(-1) != b.argmax(-1))).flatten()]
    return flips
