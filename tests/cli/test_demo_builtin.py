"""`lmforge demo` on the built-in model, shortened (16 steps, 8 generations; tests/conftest.py's
`builtin_demo`, whose run the adapter and GGUF tests read too): the fine-tuned model must beat the base on
both loss and ROUGE-L, and the demo must say so with exit 0. This is the test that fails on quality
(tests/cli/test_cli.py runs every stage on a tiny random model, which writes no words)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_demo_on_the_builtin_model_beats_the_base(builtin_demo):
    code, out, run = builtin_demo
    result = json.loads((run / "eval.json").read_text())
    base, tuned = result["base"], result["finetuned"]
    print(
        f"loss {base['loss']:.3f} -> {tuned['loss']:.3f}, ROUGE-L {base['rouge_l']:.3f} -> {tuned['rouge_l']:.3f}"
    )
    assert tuned["loss"] < base["loss"] * 0.8, (base, tuned)
    assert tuned["rouge_l"] > base["rouge_l"] + 0.05, (base, tuned)
    assert code == 0 and "the fine-tuned model is better: lower loss and higher ROUGE-L" in out
    assert f"on {tuned['n']} records ROUGE-L" in out and tuned["n"] == 8
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r.get("val_loss") is not None] == [0, 16]
