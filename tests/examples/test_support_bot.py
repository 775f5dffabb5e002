"""The demo's data (examples/support-bot/): reproducible, messy where it should be, and no test answer that
the model could have memorised from train: every answer string is different, so only facts and style carry
over from train to test."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmforge.cli import demo_data, demo_topics
from lmforge.config import load_config
from lmforge.data.prepare import prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-bot"
GENERATED = ["eval/benchmark.jsonl", "exp.yaml", "raw/export.csv", "raw/tickets.jsonl"]


def test_generator_reproduces_the_committed_files(tmp_path):
    shutil.copy(EXAMPLE / "generate_raw.py", tmp_path / "generate_raw.py")
    subprocess.run([sys.executable, str(tmp_path / "generate_raw.py")], check=True, capture_output=True)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(["generate_raw.py", *GENERATED])
    for rel in GENERATED:
        assert (tmp_path / rel).read_bytes() == (EXAMPLE / rel).read_bytes(), f"{rel}: rerun generate_raw.py"


@pytest.mark.parametrize("topic", demo_topics.TOPICS, ids=lambda t: t.name)
def test_every_question_and_answer_template_renders(topic):
    """An answer may only use a fact the question gave or one with a generic wording; a slot with neither
    is a KeyError here, not a crash in someone's demo."""
    raw = demo_data.raw_slots(random.Random(0))
    groups = topic.answers.values() if isinstance(topic.answers, dict) else [topic.answers]
    for question in topic.questions:
        given = demo_data.slots_of(question)
        assert given <= set(raw), question
        words = demo_data.answer_slots(topic, raw, given)
        for answer in (a for group in groups for a in group):
            text = answer.format(**words)
            assert "{" not in text and len(text.split()) >= 15
            for name in given & demo_data.slots_of(answer):  # a fact the question gave is carried over
                assert str(raw[name]) in text


def test_return_answers_follow_the_days_in_the_question():
    topic = next(t for t in demo_topics.TOPICS if t.name == "return")
    assert topic.rule({"days": 30}) == "open" and topic.rule({"days": 31}) == "closed"


def test_prepare_keeps_a_clean_set_with_no_test_answer_in_train(tmp_path, capsys):
    out = tmp_path / "run"
    cfg = load_config(
        EXAMPLE / "exp.yaml", [f"train.output_dir={out}", f"data.output_dir={out / 'data'}", "data.workers=1"]
    )
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"]["ok"]
    splits = {
        s: [json.loads(line) for line in open(out / "data" / f"{s}.jsonl")] for s in ("train", "val", "test")
    }
    train_answers = {r["response"] for r in splits["train"]}
    shared = {s: sum(r["response"] in train_answers for r in splits[s]) for s in ("val", "test")}
    print(
        f"answers also in train: {shared}; distinct train answers {len(train_answers)}/{len(splits['train'])}"
    )
    assert shared == {"val": 0, "test": 0}
    assert len(train_answers) == len(splits["train"])
    assert len(splits["test"]) >= 90 and len(splits["train"]) >= 800
    # the planted dirt gives every cleaning step work (README.md lists it)
    steps = {s["step"]: s for s in stats["steps"]}
    dropped = {name for name, s in steps.items() if s["in"] > s["out"]}
    assert {"read", "length", "language", "exact_dedup", "near_dedup", "decontaminate"} <= dropped
    changed = {name for name, s in steps.items() if s.get("changed")}
    assert {"fix_unicode", "strip_html", "pii"} <= changed
    kept = [r["prompt"] + " " + r["response"] for rows in splits.values() for r in rows]
    assert not any(mark in text for text in kept for mark in ("<p>", "&amp;", "â€", "@example.com"))
