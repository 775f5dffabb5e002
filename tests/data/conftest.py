"""Helpers for the data tests: write an experiment next to its raw files, run prepare, read the outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lmforge.data.prepare import prepare


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


class Runner:
    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, rel: str) -> list[dict[str, Any]]:
        return read_jsonl(self.root / rel)

    def write(self, rel: str, content: str | bytes) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    def config(
        self,
        sources: list[dict],
        steps: list | None = None,
        task: str = "causal_lm",
        out: str = "out",
        **data: Any,
    ) -> Path:
        exp = {
            "name": "t",
            "seed": 1,
            "task": {"type": task},
            "data": {
                "sources": sources,
                "steps": steps or [],
                "output_dir": str(self.root / out),
                "workers": 1,
                "split": {"train": 1.0, "val": 0.0, "test": 0.0},
                **data,
            },
        }
        path = self.root / "exp.yaml"
        path.write_text(yaml.safe_dump(exp), encoding="utf-8")
        return path

    def run(
        self,
        sources: list[dict],
        steps: list | None = None,
        task: str = "causal_lm",
        out: str = "out",
        **data: Any,
    ) -> tuple[dict, list[dict], list[dict]]:
        """-> (stats, kept rows of all splits in order, rejects)."""
        stats = prepare(self.config(sources, steps, task, out, **data), quiet=True)
        o = self.root / out
        kept = [r for name in ("train", "val", "test") for r in read_jsonl(o / f"{name}.jsonl")]
        return stats, kept, read_jsonl(o / "rejects.jsonl")


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)
