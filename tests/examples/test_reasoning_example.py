"""examples/reasoning: every committed answer is right, the user reward scores well-formed and right answers
as the README says, and the example's YAML prepares, trains (grpo) and evaluates on the tiny model."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from lmforge.config import load_config
from lmforge.data.prepare import prepare
from lmforge.evaluation.compare import evaluate
from lmforge.training.run import train

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reasoning"


def _rows() -> list[dict]:
    return [json.loads(x) for x in (EXAMPLE / "raw" / "arithmetic.jsonl").read_text().splitlines()]


def _reward():
    spec = importlib.util.spec_from_file_location("reasoning_rewards", EXAMPLE / "rewards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.arithmetic


def _sum(expression: str) -> int:
    """`43 - 7 + 12` -> 48, left to right (reasoning-gym's chain_sum has + and - only)."""
    terms = expression.split()
    total = int(terms[0])
    for op, term in zip(terms[1::2], terms[2::2], strict=True):
        total = total + int(term) if op == "+" else total - int(term)
    return total


def test_answers_are_right_and_the_reward_scores_them():
    rows = _rows()
    assert len(rows) == 300 and len({r["prompt"] for r in rows}) == 300
    expressions = [re.fullmatch(r"What is ([\d +-]+)\? Put .*", r["prompt"]).group(1) for r in rows]
    assert [str(_sum(e)) for e in expressions] == [r["answer"] for r in rows]
    answers = [r["answer"] for r in rows]
    prompts = [r["prompt"] for r in rows]
    reward = _reward()
    right = [f"Adding up: <answer>{a}</answer>" for a in answers]
    assert reward(prompts, right, answer=answers) == [1.0] * 300
    wrong = [f"<answer> {int(a) + 1} </answer>" for a in answers]
    assert reward(prompts, wrong, answer=answers) == [0.5] * 300
    assert reward(prompts, [f"The answer is {a}." for a in answers], answer=answers) == [0.0] * 300
    chat = [[{"role": "assistant", "content": c}] for c in right[:2]]  # messages records: TRL's form
    assert reward(prompts[:2], chat, answer=answers[:2], id=["a", "b"]) == [1.0, 1.0]


def test_example_prepares_trains_and_evaluates(tiny_llama: str, tmp_path: Path):
    out = tmp_path / "run"
    overrides = [
        f"model.name={tiny_llama}",
        f"train.output_dir={out}",
        "data.workers=1",
        "data.split.train=292",
        "data.split.test=8",
        "train.max_steps=2",
        "train.batch_size=2",
        "train.num_generations=2",
        "train.max_new_tokens=8",
    ]
    cfg = load_config(EXAMPLE / "exp.yaml", overrides)
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"]["ok"] and stats["split"] == {"train": 292, "val": 0, "test": 8}
    train(cfg)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r.get("loss") is not None]
    assert len(steps) == 2 and all(r["rewards/rewards.py:arithmetic/mean"] is not None for r in steps)
    result = evaluate(cfg)
    assert result["finetuned"] and result["base"]
