"""On the built-in SmolLM2-135M-Instruct: a LoRA fine-tune (packed SFT; the session's shortened demo run,
tests/conftest.py's `builtin_demo`) lowers the val loss, and the adapter loads again after $LMFORGE_HOME moved
(it names its base portably)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_lora_sft_lowers_val_loss_and_the_adapter_loads_after_lmforge_home_moved(
    builtin_demo, tmp_path, monkeypatch
):
    run = builtin_demo[2]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    before, after = rows[0], rows[-1]
    assert before["step"] == 0 and after["step"] == 16
    assert after["val_loss"] < before["val_loss"] * 0.8, (before, after)

    # the adapter names the hub id, not this machine's converted folder: with $LMFORGE_HOME moved, the
    # built-in model converts again into the new home and the same tuned model comes back
    import torch

    from lmforge.inference.generation import load_for_inference

    adapter = json.loads((run / "final" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    ids = torch.tensor([[1, 422, 1953, 314, 3158]])
    with torch.inference_mode():
        here = load_for_inference(str(run))[0](ids).logits
        monkeypatch.setenv("LMFORGE_HOME", str(tmp_path / "moved"))
        moved = load_for_inference(str(run))[0](ids).logits
    assert any((tmp_path / "moved" / "models").glob("*/model.safetensors"))
    torch.testing.assert_close(moved, here)
