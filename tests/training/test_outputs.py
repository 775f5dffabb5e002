"""What a run leaves on disk, through the CLI and the real format layer: final/, metrics, TensorBoard."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import write_sft_project

from lmforge.cli import main

FIELDS = ("step", "epoch", "loss", "lr", "tokens", "tokens_per_s", "peak_mem_mb")


def test_cli_run_writes_loadable_final(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    exp = write_sft_project(tmp_path, tiny_model)
    assert main(["train", str(exp)]) == 0
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r.get("loss") is not None]
    assert [r["step"] for r in train_rows] == [2, 4, 6]
    assert all(k in r for r in train_rows for k in FIELDS)
    assert [r["step"] for r in rows if r.get("val_loss") is not None] == [
        0,
        3,
        6,
    ]  # 0: the untrained baseline
    assert len({tuple(r) for r in rows}) == 1  # one schema: every row has the same keys, in one order
    eval_only = next(r for r in rows if r["step"] == 3)
    assert eval_only["loss"] is None and eval_only["tokens_per_s"] is None
    assert eval_only["lr"] > 0 and eval_only["tokens"] > 0 and eval_only["peak_mem_mb"] > 0
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "best" / "adapter_model.safetensors").is_file()
    meta = json.loads((run / "final" / "lmforge.json").read_text())
    assert meta["base_model"] == tiny_model and len(meta["data_fingerprint"]) == 64
    assert meta["metrics"]["steps"] == 6 and meta["metrics"]["val_loss"] == rows[-1]["val_loss"]

    # plain transformers + peft, no lmforge code
    tok = AutoTokenizer.from_pretrained(run / "final")
    assert tok.chat_template
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run / "final")
    ids = tok("Where is office 3?", return_tensors="pt").input_ids
    out = model.generate(input_ids=ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids.shape[1]


def test_cli_user_errors(tiny_llama, tmp_path, capsys):
    exp = write_sft_project(tmp_path, tiny_llama, max_steps=3)
    assert main(["train", str(exp), "--resume"]) == 2  # nothing to resume
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["train", str(exp)]) == 0
    assert main(["train", str(exp)]) == 2  # would mix a new run into the old folder
    assert "--resume" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="QLoRA runs where CUDA is: the GPU suite trains it")
def test_qlora_without_cuda_is_one_line(tiny_gpt2, tmp_path, capsys):
    exp = write_sft_project(tmp_path, tiny_gpt2)
    assert main(["train", str(exp), "model.quantize=4bit", "train.output_dir=" + str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "needs a CUDA GPU" in err and err.count("\n") == 1


def test_full_finetune_final_loads_with_transformers(tiny_gpt2, tmp_path):
    from transformers import AutoModelForCausalLM

    exp = write_sft_project(tmp_path, tiny_gpt2, max_steps=2)
    assert main(["train", str(exp), "model.lora=null", "train.gradient_checkpointing=true"]) == 0
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "final")
    base = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
    changed = [n for n, p in model.state_dict().items() if not torch.equal(p, base.state_dict()[n])]
    assert changed  # the full model was trained and saved


@pytest.mark.parametrize("precision", ["bf16"])
def test_packed_bf16_run(tiny_llama, tmp_path, precision):
    """Packing (4D block mask from the format layer) under bf16 autocast trains and lowers the loss."""
    exp = write_sft_project(
        tmp_path,
        tiny_llama,
        max_steps=8,
        packing=True,
        precision=precision,
        lr=3e-3,
        log_every=1,
        eval_every=0,
    )
    assert main(["train", str(exp), "model.lora=null"]) == 0
    losses = [
        json.loads(line)["loss"]
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["loss"] is not None
    ]
    assert losses[-1] < losses[0]
