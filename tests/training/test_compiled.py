"""train.compile: compiled decoder layers give eager's losses, compile one packed shape, resume exactly."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import fake_examples, make_cfg

from lmforge.training import compiled
from lmforge.training.compiled import CompiledStep, compiler_missing
from lmforge.training.run import train

pytestmark = pytest.mark.skipif(compiler_missing("cpu") is not None, reason="inductor needs a C++ compiler")

DATA = (fake_examples(44, vocab=250, seed=3, min_len=6, max_len=40), [])


def _cfg(model: str, out, compile_: str, *extra: str):
    return make_cfg(
        model,
        str(out),
        f"train.compile={compile_}",
        "train.packing=true",
        "train.max_seq_len=64",
        "train.precision=bf16",
        "train.max_steps=6",
        "train.save_every=3",
        "model.lora.r=4",
        *extra,
    )


def _losses(out) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


class _Stopped(Exception):
    pass


def _stop_at_3(run, row) -> None:
    if run.state.step == 3:
        raise _Stopped


def test_compiled_losses_match_eager_one_shape_and_exact_resume(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    nodrop = "model.lora.dropout=0"
    train(_cfg(tiny_llama, tmp_path / "eager", "false", nodrop), data=DATA)
    metrics = train(_cfg(tiny_llama, tmp_path / "comp", "true", nodrop), data=DATA)
    eager, comp = _losses(tmp_path / "eager"), _losses(tmp_path / "comp")
    assert len(eager) == len(comp) == 6
    for a, b in zip(eager, comp, strict=True):  # bf16 autocast: the fused kernels round differently
        assert abs(a - b) <= 1e-2 * abs(a), (eager, comp)
    c = metrics["compile"]
    # the epoch's last batch has fewer bins, some bins are short: all padded to 4 x 64, one shape
    assert c["compiled"] and c["recompilations"] == 0 and c["compilations"] >= 1, c
    ref = load_file(str(tmp_path / "eager" / "final" / "adapter_model.safetensors"))
    got = load_file(str(tmp_path / "comp" / "final" / "adapter_model.safetensors"))
    for name, t in ref.items():  # six AdamW steps apart from bf16 rounding
        assert torch.allclose(t, got[name], rtol=0.05, atol=2e-3), name

    # with LoRA dropout (inductor's random numbers), resumed from step 3 == uninterrupted
    train(_cfg(tiny_llama, tmp_path / "ref", "true"), data=DATA)
    with pytest.raises(_Stopped):  # stopped after step 3's checkpoint, as a kill would
        train(_cfg(tiny_llama, tmp_path / "res", "true"), data=DATA, callbacks=[_stop_at_3])
    assert not (tmp_path / "res" / "final").exists()
    train(_cfg(tiny_llama, tmp_path / "res", "true"), resume=True, data=DATA)
    ref = load_file(str(tmp_path / "ref" / "final" / "adapter_model.safetensors"))
    got = load_file(str(tmp_path / "res" / "final" / "adapter_model.safetensors"))
    for name, t in ref.items():
        assert torch.equal(t, got[name]), name


def test_auto_decides_from_timed_steps_and_says_why(tiny_llama, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    cfg = _cfg(tiny_llama, tmp_path / "run", "auto")
    step = CompiledStep("auto", torch.nn.Linear(2, 2), cfg, total_steps=2000, device="cpu")
    step.eager_s = [0.5, 0.4]
    monkeypatch.setitem(compiled.SAVING, "cpu", 0.3)
    go, line = step.estimate(10)
    assert go and "1990 steps left x 0.40 s/step x 30% saving = 239 s" in line, line
    step.total = 20
    assert not step.estimate(10)[0]  # 10 x 0.4 x 0.3 = 1.2 s never pays for a cold compile
    (tmp_path / "inductor").mkdir()
    (tmp_path / "inductor" / "compile_times.json").write_text(json.dumps({step.key(): {"warm_s": 0.5}}))
    go, line = step.estimate(10)
    assert go and "measured here" in line


def test_no_compiler_trains_eager_with_one_line(tiny_llama, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("lmforge.training.compiled.compiler_missing", lambda device: "no C++ compiler (g++)")
    metrics = train(_cfg(tiny_llama, tmp_path / "run", "true", "train.max_steps=2"), data=DATA)
    err = capsys.readouterr().err
    assert "train.compile: no C++ compiler (g++); training eager" in err and "Traceback" not in err
    assert not metrics["compile"]["compiled"]
