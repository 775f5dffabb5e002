"""examples/preference/: the raw pairs are messy where the README says, prepare cleans them with reasons,
and the bad answers are not told apart by length alone. The slow test runs the example as written on the
built-in model: DPO takes held-out preference accuracy from about chance to >= 0.9."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lmforge.config import load_config
from lmforge.data.prepare import prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "preference"


def _prepared(out: Path, extra: list[str] = ()) -> tuple[dict, dict[str, list[dict]], list[dict]]:
    overrides = [f"train.output_dir={out}", f"data.output_dir={out / 'data'}", "data.workers=1", *extra]
    stats = prepare(load_config(EXAMPLE / "exp.yaml", overrides), quiet=True)
    splits = {s: [json.loads(x) for x in open(out / "data" / f"{s}.jsonl")] for s in ("train", "val", "test")}
    rejects = [json.loads(x) for x in open(out / "data" / "rejects.jsonl")]
    return stats, splits, rejects


def test_prepare_rejects_the_planted_dirt_with_reasons(tmp_path):
    stats, splits, rejects = _prepared(tmp_path / "run")
    assert stats["accounting"]["ok"]
    reasons = Counter(r["reason"].split(" (")[0].split(" of ")[0] for r in rejects)
    assert reasons == {
        "exact duplicate": 12,
        "chosen == rejected": 3,
        "empty field 'rejected'": 2,
        "empty field 'chosen'": 1,
        "missing field 'bad'": 1,
        "malformed JSON": 1,
        "language es not in ['en']": 1,
        "language fr not in ['en']": 1,
        "language de not in ['en']": 1,
    }
    kept = [r for rows in splits.values() for r in rows]
    assert len(kept) == 414 and len(splits["test"]) >= 60
    texts = [r[k] for r in kept for k in ("prompt", "chosen", "rejected")]
    assert not any(mark in t for t in texts for mark in ("<p>", "<br>", "&#39;", "&amp;"))
    assert all(r["chosen"] != r["rejected"] and r["chosen"].strip() and r["rejected"].strip() for r in kept)
    # code keeps its bytes: the fenced block as the generator wrote it
    git = [r["chosen"] for r in kept if "git reset" in r["chosen"]]
    assert git and all("```bash\ngit reset --soft HEAD~1\n```" in c for c in git)


def test_length_alone_does_not_tell_the_good_answer(tmp_path):
    """The signal is the answer's style (README.md), not its length: 'the longer one is good' is near chance."""
    _, splits, _ = _prepared(tmp_path / "run")
    for name, rows in splits.items():
        longer = sum(len(r["chosen"]) > len(r["rejected"]) for r in rows) / len(rows)
        print(f"{name}: chosen is the longer answer in {longer:.2f} of {len(rows)} pairs")
        assert 0.3 <= longer <= 0.7, name


@pytest.mark.slow
def test_dpo_on_the_builtin_model_takes_accuracy_from_chance_to_high(tmp_path):
    """The example (prepare, train, eval) on smollm2-135m-instruct, shortened: 30 of its 83 steps (120 of
    its 331 train pairs) at 3x its learning rate, measured 0.21 -> 0.935 (at the example's lr 2e-4, 30 steps
    gave 0.69, 50 steps 0.935, the full epoch 0.97: README.md)."""
    from lmforge.evaluation.compare import evaluate
    from lmforge.training.run import train

    out = tmp_path / "run"
    _prepared(out)
    overrides = [
        f"train.output_dir={out}",
        f"data.output_dir={out / 'data'}",
        "train.max_steps=30",
        "train.lr=6e-4",
    ]
    cfg = load_config(EXAMPLE / "exp.yaml", overrides)
    train(cfg)
    result = evaluate(cfg)
    base, tuned = result["base"], result["finetuned"]
    print(f"preference_accuracy {base['preference_accuracy']:.3f} -> {tuned['preference_accuracy']:.3f}")
    assert base["preference_accuracy"] < 0.7
    assert tuned["preference_accuracy"] >= 0.9
    assert tuned["reward_margin"] > base["reward_margin"]
