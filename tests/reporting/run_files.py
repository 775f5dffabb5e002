"""Builders of a finished tiny run folder, written file by file as prepare, train and eval would leave it.

A plain module (not conftest.py) so the tests can import it by a name no other test folder uses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

# run files are untrusted text: the page must show this, not run it
EVIL = "<script>window.__pwned = 1</script>"


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def stats() -> dict:
    return {
        "read": 120,
        "kept": 90,
        "rejected": 30,
        "steps": [
            {"name": "fix_unicode", "in": 120, "out": 120, "seconds": 0.01, "reasons": {}},
            {"name": "length", "in": 120, "out": 104, "seconds": 0.02, "reasons": {"too_short": 16}},
            {
                "name": "language",
                "in": 104,
                "out": 98,
                "seconds": 0.4,
                "reasons": {"lang=de": 4, "lang=fr": 2},
            },
            {"name": "exact_dedup", "in": 98, "out": 90, "seconds": 0.03, "reasons": {"duplicate": 8}},
        ],
        "lengths": {
            "before": {"bins": [0, 10, 20, 30, 40, 50], "counts": [30, 40, 25, 15, 10]},
            "after": {"bins": [0, 10, 20, 30, 40, 50], "counts": [5, 38, 24, 14, 9]},
        },
        "word_freq": {"N": 2000, "top": [["the", 140, 0.07], ["model", 60, 0.03], ["data", 50, 0.025]]},
        "cooccurrence": {"window": 5, "top": [["the", "model", 30], ["fine", "tune", 12]]},
        "splits": {"train": 72, "val": 9, "test": 9},
        "augmented": {  # as data augment writes it: extra train records, counted apart from `read`
            "generated": 14,
            "kept": 11,
            "rejected": 3,
            "by_method": {
                "eda": {"generated": 10, "kept": 8, "rejected": 2},
                "paraphrase": {"generated": 4, "kept": 3, "rejected": 1},
            },
            "reasons": {"augment/exact_dedup: exact duplicate": 2, "augment/paraphrase: empty": 1},
        },
        "labels": {
            "train": {"pos": 40, "neg": 32},
            "val": {"pos": 5, "neg": 4},
            "test": {"pos": 4, "neg": 5},
        },
    }


def metrics(steps: int = 50, best: int = 30) -> list[dict]:
    """Loss falling, val loss lowest at `best` then rising (so early stopping has a point to mark)."""
    rows = []
    for s in range(1, steps + 1):
        lr = 2e-4 * min(1.0, s / 5) * 0.5 * (1 + math.cos(math.pi * s / steps))
        row = {
            "step": s,
            "epoch": s / steps,
            "loss": 3.0 * math.exp(-s / 20) + 0.5,
            "lr": lr,
            "tokens": 512 * s,
            "tokens_per_s": 600 + 40 * math.sin(s),
            "peak_mem_mb": 900.0,
        }
        rows.append(row)
        if s % 10 == 0:
            rows.append({"step": s, "val_loss": 2.0 + abs(s - best) / 40})
    return rows


def config() -> dict:
    return {
        "name": "tiny-run",
        "seed": 42,
        "task": {"type": "sft"},
        "model": {"name": "tiny", "lora": {"r": 8}},
        "train": {"max_steps": 80, "lr": 2e-4, "early_stopping": {"patience": 2}},
        "data": {"output_dir": "unused/elsewhere"},
    }


def make_run(root: Path) -> Path:
    """Write every file a finished run has: train folder with its data folder inside (the default)."""
    run = root / "tiny-run"
    (run / "data").mkdir(parents=True)
    (run / "final").mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(config(), sort_keys=False), encoding="utf-8")
    write_jsonl(run / "metrics.jsonl", metrics())
    (run / "eval.json").write_text(
        json.dumps(
            {
                "split": "test",
                "base": {"loss": 2.9, "perplexity": 18.17, "rouge_l": 0.12, "eos_rate": 0.4},
                "finetuned": {"loss": 2.1, "perplexity": 8.17, "rouge_l": 0.31, "eos_rate": 0.95},
            }
        ),
        encoding="utf-8",
    )
    write_jsonl(
        run / "samples.jsonl",
        [
            {
                "prompt": "What is LoRA?",
                "reference": "A low-rank adapter.",
                "base": "LoRA is a radio protocol.",
                "finetuned": "A low-rank adapter added to frozen weights.",
            },
            {"prompt": f"Say {EVIL}", "reference": "ok", "base": "naïve café ✓", "finetuned": "ok"},
        ],
    )
    (run / "data" / "stats.json").write_text(json.dumps(stats()), encoding="utf-8")
    write_jsonl(
        run / "data" / "rejects.jsonl",
        [
            {"id": "raw/a.jsonl:3", "step": "length", "reason": "too_short", "text": "hi"},
            {"id": "raw/a.jsonl:9", "step": "exact_dedup", "reason": "duplicate", "text": "same text"},
        ],
    )
    (run / "data" / "manifest.json").write_text(json.dumps({"files": ["train.jsonl"]}), encoding="utf-8")
    (run / "final" / "lmforge.json").write_text(json.dumps({"task": "sft"}), encoding="utf-8")
    return run
