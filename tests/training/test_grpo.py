"""`train.objective: grpo` end to end on the tiny Llama: prepare rl records, sample, score, update.

The reward is a user function from a file next to the YAML, plus a built-in; the run must write reward
rows with the one metrics schema, save final/, and move the policy toward the reward.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import lmforge
from lmforge.errors import UserError

REWARD_PY = """
def even(prompts, completions, completion_ids, **columns):
    # the share of even token ids: a random policy scores ~0.5 with spread, so the groups carry signal
    return [sum(1 for t in ids if t % 2 == 0) / len(ids) for ids in completion_ids]


def sees_columns(prompts, completions, answer, **columns):
    assert all(isinstance(a, int) for a in answer), answer
    return [None] * len(completions)
"""


def _project(root: Path, model: str, **train) -> Path:
    rows = [{"prompt": f"What is {a} + {b}?", "answer": a + b} for a in range(8) for b in range(4)]
    (root / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "rewards.py").write_text(REWARD_PY)
    exp = {
        "name": "rl",
        "data": {
            "sources": [{"path": "raw.jsonl"}],
            "steps": [],
            "split": {"train": 0.9, "val": 0, "test": 0.1},
        },
        "task": {"type": "rl"},
        "model": {"name": model, "lora": {"r": 8, "alpha": 16, "dropout": 0.0}},
        "train": {
            "objective": "grpo",
            "output_dir": str(root / "run"),
            "rewards": [
                "rewards.py:even",
                "rewards.py:sees_columns",
                {"name": "exact_match", "pattern": "(\\d+)"},
            ],
            "num_generations": 4,
            "max_new_tokens": 12,
            "batch_size": 2,
            "max_steps": 12,
            "lr": 5e-3,
            "warmup_ratio": 0,
            "precision": "fp32",
            "log_every": 1,
            "save_every": 100,
            "max_seq_len": 64,
            **train,
        },
    }
    path = root / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def test_grpo_trains_toward_the_reward(tiny_llama, tmp_path):
    """A run end to end, and each update moves the policy toward its better completions: after the step,
    the log-probs of the completions it sampled rise where the advantage was positive (sum of A x change > 0)."""
    import torch

    from lmforge.training.grpo import completion_logps

    exp = _project(tmp_path, tiny_llama, beta=0.05, num_iterations=2, loss_type="grpo")
    cfg = lmforge.load_config(exp)
    lmforge.prepare(cfg)
    train = [json.loads(x) for x in (tmp_path / "run" / "data" / "train.jsonl").read_text().splitlines()]
    assert train and all(
        r["meta"]["extra"]["answer"] == sum(map(int, re.findall(r"\d+", r["prompt"]))) for r in train
    )
    moves = []

    def after_step(run, row):
        with torch.no_grad():
            for r in run.grpo.last:  # old_logps: at sampling (num_iterations > 1 keeps them)
                change = ((completion_logps(run.model, r) - r.old_logps) * r.loss_mask).sum(1)
                moves.append(float((change * r.advantages).sum()))

    metrics = lmforge.train(cfg, callbacks=[after_step])
    assert metrics["steps"] == 12 and (tmp_path / "run" / "final").is_dir()
    assert len(moves) == 12 and sum(m > 0 for m in moves) >= 11, moves
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r.get("loss") is not None]
    assert len(train_rows) == 12
    keys = {"reward", "rewards/rewards.py:even/mean", "rewards/exact_match/mean", "kl", "clip_ratio/high"}
    assert keys <= set(train_rows[0]) and train_rows[-1]["kl"] > 0
    assert all(r.keys() == rows[0].keys() for r in rows)  # one schema for every row
    assert all(r["rewards/rewards.py:sees_columns/mean"] is None for r in train_rows)  # None: not scored


def test_grpo_config_errors(tiny_llama, tmp_path):
    with pytest.raises(UserError, match="grpo needs at least one reward function"):
        lmforge.load_config(_project(tmp_path, tiny_llama, rewards=[]))
    with pytest.raises(UserError, match="2 weights for 3 reward functions"):
        lmforge.load_config(_project(tmp_path, tiny_llama, reward_weights=[1.0, 2.0]))
    with pytest.raises(UserError, match="run `lmforge prepare` first"):  # rl eval: tests/evaluation
        lmforge.evaluate(lmforge.load_config(_project(tmp_path, tiny_llama)))
    exp = _project(tmp_path, tiny_llama)
    text = exp.read_text().replace("type: rl", "type: sft")
    exp.write_text(text)
    with pytest.raises(UserError, match="grpo trains task.type: rl"):
        lmforge.load_config(exp)
