"""A small labelled set (distinct English sentences, three labels) and a prepare runner for augment tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

SUBJECTS = ["kettle", "blender", "backpack", "jacket", "lamp", "phone", "chair", "toaster", "camera", "mixer"]
BY_LABEL = {
    "positive": "I love this {} and the price was good, great service from the store",
    "negative": "The {} arrived broken and the delivery was slow, a bad problem overall",
    "neutral": "Received the {} today and it seems fine so far, will try it again soon",
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_experiment(root: Path, augment: dict | None, out: str = "out", steps: list | None = None) -> Path:
    """30 reviews (10 per label), split 20/5/5 stratified by label; returns the YAML path."""
    rows = [
        {"review": tpl.format(s), "sentiment": label} for label, tpl in BY_LABEL.items() for s in SUBJECTS
    ]
    (root / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    exp = {
        "name": "aug",
        "seed": 7,
        "task": {"type": "classification"},
        "data": {
            "sources": [{"path": "reviews.jsonl", "fields": {"text": "review", "label": "sentiment"}}],
            "steps": steps
            if steps is not None
            else ["normalize", {"length": {"min_words": 3}}, "exact_dedup"],
            "split": {"train": 20, "val": 5, "test": 5, "stratify": "label"},
            "output_dir": str(root / out),
            "workers": 1,
            "augment": augment,
        },
    }
    path = root / f"{out}.yaml"
    path.write_text(yaml.safe_dump(exp), encoding="utf-8")
    return path


@pytest.fixture
def experiment(tmp_path: Path):
    """experiment(augment, out) -> (stats, {split: rows}, rejects) after a real prepare run."""
    from lmforge.data.prepare import prepare

    def run(augment: dict | None, out: str = "out", steps: list | None = None):
        stats = prepare(write_experiment(tmp_path, augment, out, steps), quiet=True)
        files = {n: read_jsonl(tmp_path / out / f"{n}.jsonl") for n in ("train", "val", "test", "rejects")}
        return stats, files

    return run
