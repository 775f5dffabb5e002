"""`train.num_processes: 2` relaunches under torchrun (gloo on CPU): 2 processes x batch 2 train like 1 x batch 4,
with DDP and with FSDP (full fine-tune and LoRA), and write checkpoints and model folders once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import write_sft_project

from lmforge.cli import main


def _val_losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["val_loss"] for r in rows if r.get("val_loss") is not None]


def _weights(folder) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def _losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r.get("loss") is not None]


@pytest.mark.parametrize(
    "strategy, extra",
    [("ddp", []), ("fsdp", []), ("fsdp", ["model.lora.r=4", "model.lora.alpha=8", "model.lora.dropout=0"])],
    ids=["ddp", "fsdp", "fsdp-lora"],
)
def test_two_processes_match_one(tiny_llama, tmp_path, strategy, extra):
    exp = write_sft_project(
        tmp_path, tiny_llama, max_steps=4, log_every=1, eval_every=2, save_every=2, packing=True
    )
    cmd = [
        sys.executable,
        "-m",
        "lmforge.cli",
        "train",
        str(exp),
        "train.num_processes=2",
        "train.batch_size=2",
        f"train.distributed={strategy}",
        f"train.output_dir={tmp_path / 'ddp'}",
        *extra,
    ]
    done = subprocess.run(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained 4 steps") == 1  # rank 0 reports, once
    one_dir = tmp_path / "one"
    assert main(["train", str(exp), "train.batch_size=4", f"train.output_dir={one_dir}", *extra]) == 0
    ddp, one = _losses(tmp_path / "ddp"), _losses(one_dir)
    assert len(ddp) == len(one) == 4
    assert all(abs(a - b) <= 1e-4 * b for a, b in zip(ddp, one, strict=True)), (ddp, one)
    assert _val_losses(tmp_path / "ddp") == pytest.approx(_val_losses(one_dir), rel=1e-4)
    # written once, by rank 0: one checkpoint (step 2; the last step writes final/), best/ and final/
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == ["step-2"]
    meta = json.loads((tmp_path / "ddp" / "final" / "lmforge.json").read_text())
    assert (meta["processes"], meta["sharded"]) == (2, strategy == "fsdp")
    for folder in ("best", "final"):  # gathered whole, not one rank's shard (Adam: close, not equal)
        got, ref = _weights(tmp_path / "ddp" / folder), _weights(one_dir / folder)
        assert got.keys() == ref.keys() and got
        assert all(got[n].shape == ref[n].shape for n in ref)
        diff = sum(float((got[n] - ref[n]).norm() ** 2) for n in ref) ** 0.5
        assert diff <= 1e-2 * sum(float(ref[n].norm() ** 2) for n in ref) ** 0.5  # Adam noise: ~1.5e-3
