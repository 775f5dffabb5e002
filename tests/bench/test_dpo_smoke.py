"""The DPO benchmark at a tiny size (one repetition, the tiny Llama): both sides run and agree.

The speed and memory numbers mean nothing here (smoke runs share one process); the checks are that both
sides train the same steps on the same pairs, start from the same loss (log 2: the adapter starts at
zero, so policy = reference) and that the shared val loss is the same function for both.
"""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("trl")

from bench import harness  # noqa: E402


@pytest.fixture(autouse=True)
def results_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(harness, "RESULTS_MD", tmp_path / "RESULTS.md")


def test_pairs_are_seeded_and_not_told_apart_by_length():
    from bench.dpo_data import preference_pairs

    pairs = preference_pairs(200, seed=0)
    assert pairs == preference_pairs(200, seed=0) and pairs != preference_pairs(200, seed=1)
    longer = sum(len(p["chosen"]) > len(p["rejected"]) for p in pairs)
    assert 0.3 < longer / len(pairs) < 0.8  # length alone is a weak signal
    assert all(p["chosen"] != p["rejected"] for p in pairs)


def test_dpo_smoke(tmp_path, tiny_llama):
    from bench.dpo import bench_dpo

    s = bench_dpo(tiny_llama, 12, 4, 1, tmp_path / "w", steps=4, batch=2, warmup=1, smoke=True)
    blob = json.loads((tmp_path / "results" / "dpo.json").read_text())
    lm, trl = blob["runs"]["lmforge"][0], blob["runs"]["trl_dpo"][0]
    assert lm["steps"] == trl["steps"] == 4
    for run in (lm, trl):
        assert run["pairs_per_s"] > 0 and math.isfinite(run["val_loss"]) and len(run["val_losses"]) == 4
    # TRL's conversational path also trains the newline after each answer's end-of-turn token
    assert trl["answer_tokens_trained"] == lm["answer_tokens_trained"] + 2 * 4 * 2
    assert s["lmforge"]["pairs_per_s"]["n"] == 1
    assert {t["what"] for t in blob["targets"]} == {
        "pairs/s vs trl_dpo",
        "peak RSS vs trl_dpo",
        "val DPO loss lmforge - trl_dpo",
    }
    assert not (tmp_path / "RESULTS.md").exists()  # smoke runs append no row


def test_val_loss_is_log2_before_training(tmp_path, tiny_llama):
    """A fresh adapter (B = 0) is the reference: every pair's DPO loss is log 2, on the shared function."""
    from bench.dpo_data import make_data, val_dpo_loss
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    p = {"seed": 0, "batch": 2, "steps": 2, "max_len": 512, "work": str(tmp_path), "beta": 0.1}
    p.update(make_data(tmp_path, 4, 3, tiny_llama, p), model_dir=tiny_llama)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_llama), LoraConfig(r=4, target_modules="all-linear")
    )
    val = val_dpo_loss(model, p)
    assert val["val_losses"] == pytest.approx([math.log(2)] * 3, abs=1e-6)
