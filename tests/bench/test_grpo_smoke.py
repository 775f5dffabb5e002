"""The GRPO benchmark at a tiny size (one repetition, the tiny Llama): both sides run the same work.

The speed and memory numbers mean nothing here (smoke runs share one process); the checks are that both
sides train the same steps on the same prompts (the same prompt tokens: one chat template, one order) and
sample completions, and that the reward functions score what they should.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from bench import harness  # noqa: E402


@pytest.fixture(autouse=True)
def results_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(harness, "RESULTS_MD", tmp_path / "RESULTS.md")


def test_rewards_score_format_and_answer():
    from bench.grpo_data import answer_reward, format_reward

    done = [[{"role": "assistant", "content": "7 + 5 is <answer>12</answer>"}]]
    wrong, loose = "<answer> 13 </answer>", "the answer is 12"
    assert format_reward(None, [*done, wrong, loose]) == [1.0, 1.0, 0.0]
    assert answer_reward(None, [*done, wrong, loose], answer=[12, 12, 12]) == [1.0, 0.0, 0.0]


def test_grpo_smoke(tmp_path, tiny_llama):
    from bench.grpo import bench_grpo

    bench_grpo(tiny_llama, 1, tmp_path / "w", steps=2, prompts=2, generations=4, max_new_tokens=8, smoke=True)
    blob = json.loads((tmp_path / "results" / "grpo.json").read_text())
    lm, trl = blob["runs"]["lmforge"][0], blob["runs"]["trl_grpo"][0]
    assert lm["steps"] == trl["steps"] == 2
    assert lm["prompt_tokens"] == trl["prompt_tokens"] > 0  # the same prompts, rendered alike
    for run in (lm, trl):
        assert 0 < run["completion_tokens"] <= run["generated_positions"] <= 2 * 2 * 4 * 8
        assert run["prompts_per_s"] > 0 and run["generate_s"] > 0 and run["update_s"] > 0
    assert {t["what"] for t in blob["targets"]} == {"prompts/s vs trl_grpo", "peak RSS vs trl_grpo"}
    assert not (tmp_path / "RESULTS.md").exists()  # smoke runs append no row
