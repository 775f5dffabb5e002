"""Prepared splits (as `lmforge prepare` writes them) and configs for the eval tests."""

from __future__ import annotations

import json
from pathlib import Path

from lmforge.config import load_config

CITIES = ["Paris", "Berlin", "Rome", "Madrid", "Oslo", "Vienna"]


def sft_rows(n: int) -> list[dict]:
    return [
        {"id": f"t:{i}", "meta": {}, "prompt": f"Where is office {i}?", "response": f"In {CITIES[i % 6]}."}
        for i in range(n)
    ]


def cls_rows(n: int) -> list[dict]:
    words = {"pos": "great lovely wonderful", "neg": "awful broken terrible"}
    return [
        {
            "id": f"c:{i}",
            "meta": {},
            "text": f"This is {words['pos' if i % 2 else 'neg']} number {i}",
            "label": "pos" if i % 2 else "neg",
        }
        for i in range(n)
    ]


def write_splits(root: Path, rows: list[dict], n_eval: int = 8) -> Path:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    parts = {"train": rows[: -2 * n_eval], "val": rows[-2 * n_eval : -n_eval], "test": rows[-n_eval:]}
    for split, part in parts.items():
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return data


def cfg_for(root: Path, model: str, task: str, *overrides: str):
    return load_config(
        None,
        [
            f"model.name={model}",
            f"task.type={task}",
            f"data.output_dir={root / 'data'}",
            f"train.output_dir={root / 'run'}",
            "train.precision=fp32",
            "train.max_seq_len=96",
            "train.batch_size=4",
            "train.eval_every=0",
            "train.save_every=1000",
            "train.warmup_ratio=0",
            "eval.generate_n=4",
            "eval.max_new_tokens=8",
            "eval.batch_size=4",
            *overrides,
        ],
    )
