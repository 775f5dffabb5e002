"""The CPU speed-ups of LoRA training (train/setup.py) change no number: FastDropout drops at rate p without
bias, and frozen bf16 weights under bf16 autocast give the same loss and gradients as fp32 weights."""

from __future__ import annotations

import torch
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.models import load_model
from lmforge.training.fused_lora import FastDropout
from lmforge.training.loss import loss_sum
from lmforge.training.setup import apply_lora, speed_up_on_cpu


def test_fast_dropout_rate_scale_and_seed():
    drop = FastDropout(0.05)
    torch.manual_seed(0)
    x = torch.ones(2_000_000)
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.05) < 1e-3
    lanes = (y == 0).float().view(-1, 4).mean(0)  # each of the four 16-bit lanes of a random int64
    assert all(abs(float(rate) - 0.05) < 2e-3 for rate in lanes), lanes
    assert abs(float(y.mean()) - 1.0) < 2e-3  # unbiased
    kept = torch.unique(y)
    assert kept[0] == 0.0 and len(kept) == 2 and abs(float(kept[1]) - 1.0 / (1.0 - drop.p)) < 1e-6
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # from torch's seeded generator: exact resume sees the same masks
    drop.eval()
    assert drop(x) is x
    assert FastDropout(0.0)(x) is x


def _lora(model_dir: str, dropout: float) -> torch.nn.Module:
    cfg = make_cfg(model_dir, "unused", f"model.lora.dropout={dropout}")
    torch.manual_seed(0)
    return apply_lora(load_model(model_dir), cfg.model.lora)


def test_frozen_bf16_weights_change_nothing_under_autocast(tiny_model):
    plain, fast = _lora(tiny_model, 0.0), _lora(tiny_model, 0.0)
    speed_up_on_cpu(fast, "bf16", sharded=False)
    frozen = [
        m.weight
        for m in fast.modules()
        if (isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D") and not m.weight.requires_grad
    ]
    embedding = fast.get_input_embeddings().weight
    assert any(w.dtype == torch.bfloat16 for w in frozen)
    assert all(w.dtype == torch.bfloat16 for w in frozen if w is not embedding)
    assert embedding.dtype == torch.float32 and all(
        p.dtype == torch.float32 for p in fast.parameters() if p.requires_grad
    )
    batch = stand_in_collate(fake_examples(4, vocab=250, seed=3), pad_id=0)
    grads = []
    for model in (plain, fast):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_sum(model, batch)
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
        grads[-1]["loss"] = loss.detach()
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.equal(grads[0][name], grads[1][name]), name


def test_only_lora_on_cpu_with_bf16_is_changed(tiny_llama):
    fp32 = _lora(tiny_llama, 0.1)
    speed_up_on_cpu(fp32, "no", sharded=False)  # fp32 training: weights stay, dropout gets faster
    assert all(p.dtype == torch.float32 for p in fp32.parameters())
    assert any(isinstance(m, FastDropout) for m in fp32.modules())
    assert not any(type(m) is torch.nn.Dropout for m in fp32.modules() if m in _lora_dropouts(fp32))
    sharded = _lora(tiny_llama, 0.1)
    speed_up_on_cpu(sharded, "bf16", sharded=True)  # FSDP wants one dtype per unit
    assert all(p.dtype == torch.float32 for p in sharded.parameters())
    full = load_model(tiny_llama)
    speed_up_on_cpu(full, "bf16", sharded=False)  # a full fine-tune trains every weight: nothing to do
    assert all(p.dtype == torch.float32 for p in full.parameters())


def _lora_dropouts(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [
        d
        for m in model.modules()
        if isinstance(getattr(m, "lora_dropout", None), torch.nn.ModuleDict)
        for d in m.lora_dropout.values()
    ]
