"""`train.num_processes: 2` relaunches under torchrun (gloo on CPU): 2 processes x batch 2 train like 1 x batch 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from train_helpers import write_sft_project

from lmforge.cli import main


def _losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_two_processes_match_one(tiny_llama, tmp_path):
    exp = write_sft_project(tmp_path, tiny_llama, max_steps=3, log_every=1, eval_every=0, packing=True)
    cmd = [
        sys.executable,
        "-m",
        "lmforge.cli",
        "train",
        str(exp),
        "train.num_processes=2",
        "train.batch_size=2",
        f"train.output_dir={tmp_path / 'ddp'}",
    ]
    done = subprocess.run(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained 3 steps") == 1  # rank 0 reports, once
    assert main(["train", str(exp), "train.batch_size=4", f"train.output_dir={tmp_path / 'one'}"]) == 0
    ddp, one = _losses(tmp_path / "ddp"), _losses(tmp_path / "one")
    assert len(ddp) == len(one) == 3
    assert all(abs(a - b) <= 1e-4 * b for a, b in zip(ddp, one, strict=True)), (ddp, one)
