"""`lmforge demo` on the built-in model, shortened (30 steps, 8 generations): the fine-tuned model must beat
the base on both loss and ROUGE-L, and the demo must say so with exit 0. This is the test that fails on
quality (tests/cli/test_cli.py runs every stage on a tiny random model, which writes no words)."""

from __future__ import annotations

import json

import pytest

from lmforge.cli.main import main


@pytest.mark.slow
def test_demo_on_the_builtin_model_beats_the_base(tmp_path, monkeypatch, capsys):
    from lmforge.cli.demo import REPO_EXAMPLE

    monkeypatch.chdir(tmp_path)
    overrides = ["train.max_steps=30", "train.eval_every=15", "eval.generate_n=8", "eval.max_new_tokens=64"]
    code = main(["demo", "--example", str(REPO_EXAMPLE), *overrides])
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "runs" / "demo" / "eval.json").read_text())
    base, tuned = result["base"], result["finetuned"]
    assert tuned["loss"] < base["loss"] * 0.8, (base, tuned)
    assert tuned["rouge_l"] > base["rouge_l"] + 0.05, (base, tuned)
    assert code == 0 and "the fine-tuned model is better: lower loss and higher ROUGE-L" in out
    assert f"on {tuned['n']} records ROUGE-L" in out and tuned["n"] == 8
