"""Hand-made tokenised examples and a stand-in collate for the trainer's tests (and the kill/resume script)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from lmforge.config import ExperimentConfig, load_config


def fake_examples(n: int, vocab: int, seed: int = 0, min_len: int = 6, max_len: int = 20) -> list[dict]:
    """Random token ids; the first 1..len-2 tokens are 'prompt' (label -100)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(min_len, max_len)
        ids = [rng.randrange(3, vocab) for _ in range(length)]
        cut = rng.randint(1, length - 2)
        out.append({"input_ids": ids, "labels": [-100] * cut + ids[cut:]})
    return out


def stand_in_collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right padding, labels -100 on padding; `label` rows for a classifier."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n] = torch.tensor(e["input_ids"])
        mask[i, :n] = 1
        if "labels" in e:
            labels[i, :n] = torch.tensor(e["labels"])
    batch = {"input_ids": ids, "attention_mask": mask}
    if "label" in examples[0]:
        batch["labels"] = torch.tensor([e["label"] for e in examples])
    else:
        batch["labels"] = labels
    return batch


def make_cfg(model: str, out: str, *overrides: str) -> ExperimentConfig:
    """A config for a tiny run: fp32, no packing, logs every step."""
    base = [
        f"model.name={model}",
        f"train.output_dir={out}",
        "train.packing=false",
        "train.precision=fp32",
        "train.log_every=1",
        "train.eval_every=0",
        "train.warmup_ratio=0",
        "train.batch_size=4",
    ]
    return load_config(None, base + list(overrides))


def write_sft_project(root: Path, model: str, n: int = 48, **train: object) -> Path:
    """A prepared SFT dataset (train/val jsonl, as `lmforge prepare` writes it) and its EXP.yaml."""
    cities = ["Paris", "Berlin", "Rome", "Madrid", "Oslo", "Vienna"]
    rows = [
        {"id": f"t:{i}", "meta": {}, "prompt": f"Where is office {i}?", "response": f"In {cities[i % 6]}."}
        for i in range(n)
    ]
    data = root / "data"
    data.mkdir(parents=True)
    for split, part in (("train", rows[: n - 8]), ("val", rows[n - 8 :])):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    settings = {
        "output_dir": str(root / "run"),
        "max_steps": 6,
        "batch_size": 4,
        "save_every": 3,
        "eval_every": 3,
        "log_every": 2,
        "max_seq_len": 64,
        "precision": "fp32",
        **train,
    }
    exp = {
        "name": "t",
        "task": {"type": "sft"},
        "model": {"name": model},
        "data": {"output_dir": str(data)},
        "train": settings,
    }
    (root / "exp.yaml").write_text(json.dumps(exp))
    return root / "exp.yaml"
