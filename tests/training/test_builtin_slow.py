"""On the built-in SmolLM2-135M-Instruct: 30 LoRA steps on a small SFT set lower the val loss, and the
adapter loads again after $LMFORGE_HOME moved (it names its base portably)."""

from __future__ import annotations

import json

import pytest
from train_helpers import write_sft_project

from lmforge.cli import main


@pytest.mark.slow
def test_lora_sft_lowers_val_loss_and_the_adapter_loads_after_lmforge_home_moved(tmp_path, monkeypatch):
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

    # the adapter names the hub id, not this machine's converted folder: with $LMFORGE_HOME moved, the
    # built-in model converts again into the new home and the same tuned model comes back
    import torch

    from lmforge.inference.generation import load_for_inference

    run = tmp_path / "run"
    adapter = json.loads((run / "final" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    ids = torch.tensor([[1, 422, 1953, 314, 3158]])
    with torch.inference_mode():
        here = load_for_inference(str(run))[0](ids).logits
        monkeypatch.setenv("LMFORGE_HOME", str(tmp_path / "moved"))
        moved = load_for_inference(str(run))[0](ids).logits
    assert any((tmp_path / "moved" / "models").glob("*/model.safetensors"))
    torch.testing.assert_close(moved, here)
