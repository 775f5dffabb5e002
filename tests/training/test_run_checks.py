"""What `train` refuses before loading a model: a changed config on resume, a relaunch that would fail in
every rank, QLoRA arguments that put every rank on GPU 0 or read pickled weights, a non-portable adapter."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.errors import UserError
from lmforge.models import BUILTIN_HUB_ID, portable_name
from lmforge.training.run import train
from lmforge.training.run_checks import changed_keys


def _short_run(model: str, out: str, *extra: str) -> None:
    cfg = make_cfg(model, out, "train.max_steps=4", "train.save_every=2", *extra)
    train(
        cfg,
        data=(fake_examples(16, vocab=250), fake_examples(4, vocab=250, seed=1)),
        collate=stand_in_collate,
    )


def test_resume_with_a_changed_learning_rate_is_refused_with_the_key_named(tiny_model, tmp_path):
    out = str(tmp_path / "run")
    _short_run(tiny_model, out)
    data = (fake_examples(16, vocab=250), fake_examples(4, vocab=250, seed=1))
    cfg = make_cfg(tiny_model, out, "train.max_steps=4", "train.save_every=2", "train.lr=5e-3")
    with pytest.raises(UserError, match=r"differs .*train\.lr"):
        train(cfg, resume=True, data=data, collate=stand_in_collate)
    longer = make_cfg(tiny_model, out, "train.max_steps=6", "train.save_every=2")  # allowed: go on longer
    assert train(longer, resume=True, data=data, collate=stand_in_collate)["steps"] == 6


def test_changed_keys_ignores_only_the_documented_few():
    saved = {"train": {"lr": 1e-4, "max_steps": 10, "eval_every": 5}, "model": {"lora": {"r": 8}}}
    new = {"train": {"lr": 1e-4, "max_steps": 20, "eval_every": 2}, "model": {"lora": {"r": 16}}}
    assert changed_keys(saved, new) == ["model.lora.r"]
    assert changed_keys({"model": {"lora": None}}, {"model": {"lora": {"r": 16}}}) == ["model.lora.r"]


def test_multi_process_user_error_is_one_line_before_the_relaunch(tiny_model, tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"model: {{name: {tiny_model}}}\ndata: {{output_dir: {tmp_path / 'nodata'}}}\n")
    res = subprocess.run(
        [sys.executable, "-m", "lmforge.cli", "train", str(exp), "train.num_processes=2"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "train.jsonl not found" in res.stderr
    assert "Traceback" not in res.stderr and "torch.distributed" not in res.stderr


def test_qlora_loads_on_this_processes_gpu_from_safetensors_only(monkeypatch):
    from lmforge.config import load_config
    from lmforge.training.setup import quantized_load_kwargs

    monkeypatch.setenv("LOCAL_RANK", "1")
    kwargs = quantized_load_kwargs(load_config(None, ["model.quantize=4bit"]), "lm", 2)
    assert kwargs["device_map"] == {"": 1}
    assert kwargs["use_safetensors"] is True
    assert kwargs["quantization_config"].load_in_4bit


def test_adapter_names_a_portable_base(tiny_model, tmp_path):
    out = tmp_path / "run"
    _short_run(tiny_model, str(out))
    for folder in ("final", "checkpoints"):
        assert (out / folder).exists()
    cfg = json.loads((out / "final" / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == portable_name(tiny_model)
    assert portable_name("smollm2-135m-instruct") == BUILTIN_HUB_ID


def test_no_known_third_party_warning_when_wrapping_a_model_with_peft(tiny_model):
    code = (
        "import warnings; warnings.simplefilter('error', FutureWarning)\n"
        "import lmforge.models as m\n"
        "from peft import LoraConfig, get_peft_model\n"
        f"get_peft_model(m.load_model({tiny_model!r}), LoraConfig(r=2, target_modules='all-linear'))\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-1500:]
    with warnings.catch_warnings():  # and the filter is for that message only
        warnings.simplefilter("error", FutureWarning)
        with pytest.raises(FutureWarning):
            warnings.warn("some other deprecation", FutureWarning, stacklevel=1)
