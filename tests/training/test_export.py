"""`lmforge export --merge`: merged weights give the adapter's logits and equal peft's merge_and_unload."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.cli import main
from lmforge.exporting.hf import export
from lmforge.training.run import train


@pytest.fixture
def lora_run(tiny_model, tmp_path) -> tuple[str, Path]:
    cfg = make_cfg(
        tiny_model,
        str(tmp_path / "run"),
        "train.max_steps=4",
        "train.lr=1e-2",
        "model.lora.dropout=0",
        "train.scheduler=constant",
    )
    train(cfg, data=(fake_examples(16, vocab=250, seed=7), []), collate=stand_in_collate)
    return tiny_model, tmp_path / "run"


def test_merged_logits_equal_adapter_and_peft_merge(lora_run, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_path, run = lora_run
    assert main(["export", str(run), "--out", str(tmp_path / "merged"), "--merge"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), run / "final").eval()
    peft_merged = (
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), run / "final")
        .merge_and_unload()
        .eval()
    )
    base = AutoModelForCausalLM.from_pretrained(base_path).eval()
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 200, 11]])
    with torch.no_grad():
        got, want, ref, before = (m(ids).logits for m in (merged, adapter, peft_merged, base))
    assert not torch.allclose(want, before, atol=1e-4)  # the adapter learned something to merge
    assert torch.allclose(got, want, atol=1e-4)
    assert torch.allclose(got, ref, atol=1e-6)
    assert AutoTokenizer.from_pretrained(tmp_path / "merged").chat_template
    assert (tmp_path / "merged" / "generation_config.json").is_file()
    assert not (tmp_path / "merged" / "adapter_config.json").exists()


def test_checksums_and_plain_export(lora_run, tmp_path):
    _, run = lora_run
    out = export(run, tmp_path / "copy")
    assert (out / "adapter_model.safetensors").is_file()
    lines = (out / "SHA256SUMS").read_text().splitlines()
    assert len(lines) == len([p for p in out.rglob("*") if p.is_file()]) - 1
    for line in lines:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert main(["export", str(run), "--out", str(out)]) == 2  # never overwrites a folder
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
