"""On the built-in SmolLM2-135M-Instruct: 30 LoRA steps on a small SFT set lower the val loss."""

from __future__ import annotations

import json

import pytest
from train_helpers import write_sft_project

from lmforge.cli import main


@pytest.mark.slow
def test_lora_sft_lowers_val_loss(tmp_path):
    exp = write_sft_project(
        tmp_path,
        "smollm2-135m-instruct",
        n=72,
        max_steps=30,
        batch_size=2,
        lr=1e-3,
        eval_every=0,
        save_every=100,
        precision="auto",
        packing=True,
        max_seq_len=128,
    )
    assert main(["train", str(exp)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    before, after = rows[0], rows[-1]
    assert before["step"] == 0 and after["step"] == 30
    assert after["val_loss"] < before["val_loss"] * 0.8, (before, after)
