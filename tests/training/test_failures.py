"""A NaN loss stops the run naming the step and keeps the last good checkpoint; bad settings are one line."""

from __future__ import annotations

import pytest
import torch
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.errors import RunFailed, UserError
from lmforge.training.run import train

DATA = (fake_examples(16, vocab=250, seed=1), [])


def test_nan_loss_stops_and_keeps_checkpoint(tiny_llama, tmp_path):
    def poison(run, row):  # after step 3, one weight becomes NaN: step 4's loss is NaN
        if run.state.step == 3:
            with torch.no_grad():
                next(p for p in run.model.parameters() if p.requires_grad).fill_(float("nan"))

    cfg = make_cfg(tiny_llama, str(tmp_path / "run"), "train.max_steps=8", "train.save_every=2")
    with pytest.raises(RunFailed, match=r"loss is nan at step 4.*step-2"):
        train(cfg, data=DATA, collate=stand_in_collate, callbacks=[poison])
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert kept == ["step-2"]
    assert not (tmp_path / "run" / "final").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only messages")
@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("model.quantize=4bit", "CUDA"),
        ("train.precision=fp16", "fp16 needs a CUDA GPU"),
        ("model.lora.target=[no_such_proj]", "model.lora.target"),
    ],
)
def test_bad_settings_are_user_errors(tiny_llama, tmp_path, override, needle):
    cfg = make_cfg(tiny_llama, str(tmp_path / "run"), "train.max_steps=1", override)
    with pytest.raises(UserError, match=needle):
        train(cfg, data=DATA, collate=stand_in_collate)
