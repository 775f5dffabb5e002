"""On the built-in SmolLM2-135M-Instruct after a short LoRA fine-tune: the exported GGUF answers as the run.

f16: logits within f16 rounding (measured max 0.039 on logits up to 39); fed the run's own greedy answers,
it picks the run's token at every position where the run's top two logits are more than 0.2 apart (a
closer tie may flip under rounding, and then the rest of a free-running answer differs: measured 5 or 6 of
the 6 greedy answers equal, depending on the CPU's training numerics). q8_0: most prompts (measured 4/6
equal at 48 new tokens, the other two share their first 6-8 words; max logit difference 0.58); asserted
>= 3.

The same files in llama.cpp itself (node-llama-cpp's prebuilt llama.cpp v0.5.0, see llama_cpp_node.py; the
prompts it renders from the chat template stored in the GGUF are the run's prompt ids): f16, fed the run's
answers, it picks the run's token wherever the run's top two logits are more than 0.2 apart, and its greedy
answers equal the run's (measured 6 of 6; asserted >= 4 as above). q8_0, where llama.cpp also rounds the
activations to 8 bits: measured 2 of 6 answers identical; asserted >= 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from llama_cpp_node import run_llama_cpp

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
    sure = _sure_tokens(model, answers, margin=0.2)

    # llama.cpp first: one process per file, the GGUF's own chat template, the run's answers scored at f16.
    chats = [to_messages(p) for p in PROMPTS]
    cpp = {
        q: run_llama_cpp(
            tmp_path / q / "model.gguf", chats, max_new_tokens=48, score=answers if q == "f16" else ()
        )
        for q in ("f16", "q8_0")
    }
    for q, answer in cpp.items():
        assert [g["prompt"] for g in answer["generations"]] == prompts, q
    assert _flips(sure, cpp["f16"]["scores"]) == []
    cpp_same = {
        q: [g["tokens"] == w.ids for g, w in zip(a["generations"], greedy, strict=True)]
        for q, a in cpp.items()
    }
    assert sum(cpp_same["f16"]) >= 4 and sum(cpp_same["q8_0"]) >= 1, cpp_same

    f16, f16_tok = load_for_inference(str(tmp_path / "f16" / "model.gguf"))
    assert [f16_tok(p)["input_ids"] for p in PROMPTS] == [tok(p)["input_ids"] for p in PROMPTS]
    with torch.no_grad():
        diff = (f16(ids).logits - ref_logits).abs().max().item()
    assert diff < 0.1, diff
    assert _flips(sure, _argmaxes(f16, answers)) == []
    got = [g.text for g in generate(f16, f16_tok, PROMPTS, max_new_tokens=48)]
    assert sum(a == b for a, b in zip(got, want, strict=True)) >= 4, list(zip(got, want, strict=True))
    del f16, model

    q8, q8_tok = load_for_inference(str(tmp_path / "q8_0" / "model.gguf"))
    got = [g.text for g in generate(q8, q8_tok, PROMPTS, max_new_tokens=48)]
    same = sum(a == b for a, b in zip(got, want, strict=True))
    assert same >= 3, list(zip(got, want, strict=True))


def _sure_tokens(ref, answers: list[tuple[int, list[int]]], margin: float) -> list[dict[int, int]]:
    """Per (prompt length, ids) answer: {position in the answer: ref's next token there} where ref's top two
    logits are more than `margin` apart (a closer tie may flip under rounding)."""
    sure = []
    for start, seq in answers:
        with torch.no_grad():
            # the predictions of the answer's tokens
            a = ref(torch.tensor([seq])).logits[0, start - 1 : -1].float()
        top = a.topk(2, dim=-1).values
        sure.append(
            {int(j): int(a[j].argmax()) for j in torch.nonzero(top[:, 0] - top[:, 1] > margin).flatten()}
        )
    return sure


def _argmaxes(model, answers: list[tuple[int, list[int]]]) -> list[list[int]]:
    """`model`'s next token at each answer position, fed the whole answer."""
    with torch.no_grad():
        return [
            model(torch.tensor([seq])).logits[0, start - 1 : -1].argmax(-1).tolist() for start, seq in answers
        ]


def _flips(sure: list[dict[int, int]], predicted: list[list[int]]) -> list[tuple[int, int]]:
    """(answer, position) where a sure token of the reference is not the one predicted."""
    return [(i, j) for i, s in enumerate(sure) for j, token in s.items() if predicted[i][j] != token]
