"""The final hand-off: train/val/test.jsonl from the last stage's survivors, rejects.jsonl from every
stage, each written under a temporary name and renamed, in shard order (so any worker count gives the
same bytes)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.data.split import NAMES, UNUSED, assign
from lmforge.data.worker import stage_dir

OUTPUTS = ("train.jsonl", "val.jsonl", "test.jsonl", "rejects.jsonl")


def assemble(
    work: str, n_stages: int, n_shards: int, split: dict[str, Any], stratify: str | None, out_dir: Path
) -> dict[str, int]:
    """Write the four files; returns the records written per split and the reject count."""
    last = stage_dir(work, n_stages - 1)
    hashes = [np.load(last / f"{i}.split.npy") for i in range(n_shards)]
    strata = (
        [json.loads((last / f"{i}.strata.json").read_text()) for i in range(n_shards)] if stratify else None
    )
    where = assign(
        np.concatenate(hashes) if hashes else np.empty(0, np.uint64),
        [s for part in strata for s in part] if strata is not None else None,
        split,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    # lone surrogates (from "\\ud800" escapes in the input) are written back as the same JSON escape
    files = {
        name: open(out_dir / f"{name}.tmp", "w", encoding="utf-8", errors="backslashreplace")
        for name in OUTPUTS
    }
    counts = dict.fromkeys(["train", "val", "test", "rejected"], 0)
    try:
        for k in range(n_stages):
            for i in range(n_shards):
                with open(stage_dir(work, k) / f"{i}.rejects.jsonl", encoding="utf-8") as f:
                    shutil.copyfileobj(f, files["rejects.jsonl"])
                counts["rejected"] += json.loads((stage_dir(work, k) / f"{i}.stats.json").read_text())[
                    "rejects"
                ]
        pos = 0
        for i in range(n_shards):
            with open(last / f"{i}.kept.jsonl", encoding="utf-8") as f:
                for line in f:
                    s = int(where[pos])
                    pos += 1
                    if s == UNUSED:
                        row = json.loads(line)
                        row.pop("_orig", None)
                        files["rejects.jsonl"].write(
                            json.dumps(
                                {
                                    "id": row["id"],
                                    "step": "split",
                                    "reason": "beyond the requested split sizes",
                                    "record": row,
                                },
                                ensure_ascii=False,
                            )
                            + "\n"
                        )
                        counts["rejected"] += 1
                        continue
                    if '"_orig": ' in line:  # drop the copy of the original fields kept between stages
                        row = json.loads(line)
                        row.pop("_orig", None)
                        line = json.dumps(row, ensure_ascii=False) + "\n"
                    files[f"{NAMES[s]}.jsonl"].write(line)
                    counts[NAMES[s]] += 1
    finally:
        for f in files.values():
            f.close()
    for name in OUTPUTS:
        os.replace(out_dir / f"{name}.tmp", out_dir / name)
    return counts


def publish(stage: Path, out_dir: Path) -> None:
    """Move the checked outputs from the stage into out_dir (renames within one file system, each atomic);
    manifest.json last, so a manifest only ever sits next to files that passed the check."""
    for name in (*OUTPUTS, "stats.json", "manifest.json"):
        os.replace(stage / name, out_dir / name)


def count_lines(path: Path) -> int:
    """Lines in a file, read in blocks (the accounting check must not trust the writers' counters)."""
    n = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            n += block.count(b"\n")
    return n
