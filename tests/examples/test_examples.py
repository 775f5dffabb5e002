"""Every example under examples/ runs: prepare on its raw data, a few training steps and eval on a tiny model.

The YAMLs are used as written; only the model (the tiny fixture), the output folders and the step count
are overridden, the way a user would: `lmforge train examples/qa/exp.yaml model.name=... train.max_steps=2`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmforge.config import load_config
from lmforge.data.prepare import prepare
from lmforge.evaluation.compare import evaluate
from lmforge.training.run import train

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# support-bot is the demo's data; `lmforge demo` and its own tests cover it; reasoning (grpo on generated,
# clean prompts: nothing for prepare to reject) has its own, test_reasoning_example.py
OWN_TESTS = ("support-bot", "reasoning")
CONFIGS = sorted(p for p in EXAMPLES.glob("*/exp*.yaml") if p.parent.name not in OWN_TESTS)
GENERATORS = sorted(p for p in EXAMPLES.glob("*/generate_raw.py") if p.parent.name != "support-bot")
# the smallest record count each example must keep after cleaning (its README promises a few hundred)
MIN_KEPT = {
    "sentiment": 300,
    "tech-articles": 120,
    "qa": 300,
    "summarization": 250,
    "chinese-reviews": 300,
    "preference": 400,
    "tools": 280,
}
# tool definitions alone fill 128 tokens: every tool record would lose its answer (inspect warns so)
SEQ_LEN = {"tools": 512}


def test_every_example_is_covered():
    assert {p.parent.name for p in CONFIGS} == set(MIN_KEPT)
    assert {p.name for p in (EXAMPLES / "sentiment").glob("exp*.yaml")} == {
        "exp-lm.yaml",
        "exp-classifier.yaml",
    }


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_prepares_trains_and_evaluates(config: Path, tiny_llama: str, tmp_path: Path):
    out = tmp_path / "run"
    # split by counts: 8 val and 8 test records keep eval fast (scoring is per record, with a 49k vocab);
    # the counts are only met when at least MIN_KEPT records survive cleaning
    want = {"train": MIN_KEPT[config.parent.name] - 16, "val": 8, "test": 8}
    overrides = [
        f"model.name={tiny_llama}",
        f"train.output_dir={out}",
        "data.workers=1",
        *(f"data.split.{k}={v}" for k, v in want.items()),
        "train.max_steps=2",
        "train.batch_size=2",
        f"train.max_seq_len={SEQ_LEN.get(config.parent.name, 128)}",
        "train.eval_every=0",
        "eval.generate_n=2",
        "eval.max_new_tokens=4",
        "eval.batch_size=8",
    ]
    cfg = load_config(config, overrides)
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"]["ok"]
    counts = {s: sum(1 for _ in open(out / "data" / f"{s}.jsonl")) for s in ("train", "val", "test")}
    assert counts == stats["split"]
    if config.parent.name == "preference":  # the pairs of one prompt share a split: sizes move by a group
        assert sum(counts.values()) == sum(want.values())
        assert all(abs(counts[k] - want[k]) <= 4 for k in want), counts
    else:
        assert counts == want
    rejects = [json.loads(line) for line in open(out / "data" / "rejects.jsonl")]
    assert len({r["step"] for r in rejects}) >= 3, "the raw data should give at least three steps work"

    metrics = train(cfg)
    assert metrics and (out / "final").is_dir()
    result = evaluate(cfg)
    assert result["finetuned"] and result["base"]
    assert (out / "eval.json").is_file()


@pytest.mark.parametrize("script", GENERATORS, ids=lambda p: p.parent.name)
def test_raw_data_is_what_the_generator_writes(script: Path, tmp_path: Path):
    """The committed raw files are reproducible: the seeded generator writes them byte for byte."""
    shutil.copy(script, tmp_path / script.name)
    subprocess.run([sys.executable, str(tmp_path / script.name)], check=True, capture_output=True)
    committed = sorted(
        p.relative_to(script.parent) for p in (script.parent / "raw").rglob("*") if p.is_file()
    )
    written = sorted(p.relative_to(tmp_path) for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert written == committed
    for rel in committed:
        assert (tmp_path / rel).read_bytes() == (script.parent / rel).read_bytes(), rel
