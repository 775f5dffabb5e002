"""The pairs of one prompt never straddle two splits: preference records, stratified splits, size
boundaries that fall inside a group, and SFT records that data.pairs turns into pairs after the split."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from lmforge.data.prepare import prepare
from lmforge.data.split import assign, split_hash

SPLIT = {"train": 0.6, "val": 0.2, "test": 0.2}


def _prompts_per_split(out: Path, key: str) -> dict[str, set[str]]:
    """prompt -> the splits its records landed in."""
    where = defaultdict(set)
    for name in ("train", "val", "test"):
        for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            where[json.loads(line)[key]].add(name)
    return where


def test_assign_keeps_a_group_whole_across_boundaries_and_strata():
    rng = random.Random(0)
    keys = [f"prompt {g}" for g in range(200) for _ in range(rng.randint(1, 6))]
    hashes = np.array([split_hash(1, k) for k in keys], dtype=np.uint64)
    strata = [rng.choice("ab") for _ in keys]  # the pairs of one prompt in different strata
    for s in (None, strata):
        for split in (SPLIT, {"train": 300, "val": 60, "test": 60}):
            where = assign(hashes, s, split)
            groups = defaultdict(set)
            for k, w in zip(keys, where.tolist(), strict=True):
                groups[k].add(w)
            assert all(len(v) == 1 for v in groups.values()), (s is not None, split)
            assert {0, 1, 2} <= set(where.tolist())


def _write(tmp_path: Path, rows: list[dict], task: str, **data) -> Path:
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = {
        "seed": 3,
        "task": {"type": task},
        "train": {"objective": "dpo"},
        "data": {
            "sources": [{"path": "raw.jsonl"}],
            "output_dir": str(tmp_path / "out"),
            "workers": 1,
            "split": SPLIT,
            **data,
        },
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    return tmp_path / "exp.yaml"


def test_preference_pairs_of_one_prompt_share_a_split_even_stratified(tmp_path):
    rng = random.Random(1)
    rows = [
        {
            "prompt": f"question {g}",
            "chosen": f"good {g}.{i}",
            "rejected": f"bad {g}.{i}",
            "lang": rng.choice("xy"),
        }
        for g in range(120)
        for i in range(rng.randint(1, 5))
    ]
    for stratify in (None, "lang"):
        out = tmp_path / f"s{stratify}"
        out.mkdir()
        prepare(_write(out, rows, "preference", split={**SPLIT, "stratify": stratify}), quiet=True)
        where = _prompts_per_split(out / "out", "prompt")
        assert len(where) == 120 and all(len(s) == 1 for s in where.values()), stratify
        assert {"train", "val", "test"} == set().union(*where.values())


def test_sft_records_made_pairs_keep_their_prompt_in_one_split(tmp_path):
    # data.pairs: SFT records of one prompt (several answers) become pairs after the split
    rng = random.Random(2)
    rows = [
        {"prompt": f"question {g}", "response": f"answer {g} number {i} " + "word " * rng.randint(1, 9)}
        for g in range(100)
        for i in range(rng.randint(1, 4))
    ]
    cfg = _write(tmp_path, rows, "preference", pairs={"rejected": "other_record"})
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"]["ok"]
    where = _prompts_per_split(tmp_path / "out", "prompt")
    assert all(len(s) == 1 for s in where.values()), [p for p, s in where.items() if len(s) > 1]
