"""Fused LoRA layers (training/fused_lora.py) compute what peft computes: the same loss and the same
gradients, under bf16 autocast and in fp32, with dropout on and off, on every architecture of the matrix;
and they keep less for the backward."""

from __future__ import annotations

import copy

import pytest
import torch
from train_helpers import fake_examples, stand_in_collate

from lmforge.config import LoraConfig
from lmforge.formatting.packing import collate, pack
from lmforge.models import load_model
from lmforge.training.fused_lora import FastDropout, fusable, fuse_lora
from lmforge.training.loss import loss_sum
from lmforge.training.setup import apply_lora, choose_attention, speed_up_on_cpu
from tiny_models import ARCHITECTURES, build_tiny


def _pair(path: str, dropout: float, precision: str) -> tuple[torch.nn.Module, torch.nn.Module, int]:
    torch.manual_seed(0)
    plain = apply_lora(load_model(path), LoraConfig(r=4, alpha=8, dropout=dropout))
    with torch.no_grad():
        for n, p in plain.named_parameters():
            if "lora_B" in n:
                p.normal_(std=0.05)  # B starts at zero: make the adapter path count in x's gradient
    speed_up_on_cpu(plain, precision, sharded=False)
    fused = copy.deepcopy(plain)
    n = fuse_lora(fused)
    return plain.train(), fused.train(), n


def _step(model: torch.nn.Module, batch: dict, precision: str, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)  # the same dropout masks on both sides
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = loss_sum(model, batch)
    loss.backward()
    out = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    out["loss"] = loss.detach()
    return out


@pytest.mark.parametrize("precision", ["bf16", "no"])
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_fused_equals_peft(tiny_llama, precision, dropout):
    plain, fused, n = _pair(tiny_llama, dropout, precision)
    assert n == 7 * plain.config.num_hidden_layers  # q k v o gate up down in every layer
    batch = stand_in_collate(fake_examples(4, vocab=250, seed=3), pad_id=0)
    ref, got = _step(plain, batch, precision, seed=5), _step(fused, batch, precision, seed=5)
    assert ref.keys() == got.keys()
    # under autocast bit for bit; in fp32 the weight gradients' matmuls may sum in another order
    tol = {"rtol": 0, "atol": 0} if precision == "bf16" else {"rtol": 1e-5, "atol": 1e-6}
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], **tol, msg=name)
    assert float(ref["loss"]) > 0


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def arch(request, tmp_path_factory):
    return str(build_tiny(request.param, tmp_path_factory.mktemp(request.param)))


def test_fused_equals_peft_on_every_architecture(arch):
    """Packed rows, bf16 autocast, dropout on: GPT-2's Conv1D layers stay peft's (not fusable)."""
    plain, fused, _ = _pair(arch, 0.1, "bf16")
    choose_attention(plain), choose_attention(fused)
    ids = [list(range(3 + i, 3 + i + 9 + i % 5)) for i in range(6)]
    batch = collate(pack([{"input_ids": x, "labels": [-100] * 2 + x[2:]} for x in ids], 24), 0)
    ref, got = _step(plain, batch, "bf16", seed=1), _step(fused, batch, "bf16", seed=1)
    # Gemma 3 through the soft-capped head path (lm_head.py): the loss is equal, the LoRA gradients differ
    # by bf16 rounding (3.5e-3 of the largest at most); every other architecture stays bit for bit
    assert torch.equal(got["loss"], ref["loss"])
    for name in ref:
        near = 1e-2 * float(ref[name].abs().max()) if "gemma3" in arch else 0.0
        torch.testing.assert_close(got[name], ref[name], rtol=0, atol=near, msg=name)


def test_fused_keeps_less_for_the_backward(tiny_llama):
    plain, fused, _ = _pair(tiny_llama, 0.1, "bf16")
    batch = stand_in_collate(fake_examples(4, vocab=250, seed=3, min_len=60, max_len=64), pad_id=0)
    saved = []
    for model in (plain, fused):
        storages: dict[int, int] = {}

        def keep(t: torch.Tensor, storages: dict[int, int] = storages) -> torch.Tensor:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            _step(model, batch, "bf16", seed=0)
        saved.append(sum(v for k, v in storages.items() if k not in params))
    assert saved[1] < 0.75 * saved[0], saved  # the tiny model's attention and MLP keep the same


def test_what_is_not_fused_stays_peft(tiny_llama):
    model = apply_lora(load_model(tiny_llama), LoraConfig(r=4, alpha=8, dropout=0.1))
    assert fuse_lora(model) == 0  # torch's Dropout (no FastDropout outside CPU LoRA runs): peft's path
    dora = apply_lora(load_model(tiny_llama), LoraConfig(r=4, alpha=8, dropout=0.0, dora=True))
    assert not any(fusable(m) for m in dora.modules())
    plain, fused, _ = _pair(tiny_llama, 0.1, "no")
    batch = stand_in_collate(fake_examples(2, vocab=250, seed=3), pad_id=0)
    with torch.no_grad():  # inference takes peft's forward: the same logits
        assert torch.equal(plain.eval()(**batch).logits, fused.eval()(**batch).logits)
    plain.train(), fused.train()
    with plain.disable_adapter(), fused.disable_adapter():  # the reference model of DPO: the base alone
        assert torch.equal(plain(**batch).logits, fused(**batch).logits)
    assert any(isinstance(m, FastDropout) for m in fused.modules())


def test_fused_under_activation_checkpointing(tiny_llama):
    """Recomputed forwards redraw the same dropout masks (checkpointing restores the RNG): same gradients."""
    from lmforge.training.setup import _checkpoint_activations

    plain, fused, _ = _pair(tiny_llama, 0.1, "bf16")
    _checkpoint_activations(fused.base_model.model)
    assert any(getattr(m, "gradient_checkpointing", False) for m in fused.modules())
    batch = stand_in_collate(fake_examples(4, vocab=250, seed=3), pad_id=0)
    ref, got = _step(plain, batch, "bf16", seed=2), _step(fused, batch, "bf16", seed=2)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=0, atol=0, msg=name)


def test_the_cast_cache_is_released_after_each_window(tiny_llama):
    """The module-global cast cache held the last layer input (and its bf16 copy) alive into eval and
    between steps; backward_window releases it."""
    from types import SimpleNamespace

    from lmforge.training import fused_lora
    from lmforge.training.loop import backward_window

    _, fused, _ = _pair(tiny_llama, 0.0, "bf16")
    acc = SimpleNamespace(
        num_processes=1,
        device=torch.device("cpu"),
        autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16),
        backward=lambda loss: loss.backward(),
    )
    model = lambda batch: loss_sum(fused, batch)  # noqa: E731 (what the run's wrapped model does)
    model.train = lambda: fused.train()
    batch = stand_in_collate(fake_examples(2, vocab=250, seed=3), pad_id=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_sum(fused, batch).backward()
    assert fused_lora._cast_cache[0] is not None  # a step without the loop keeps it
    backward_window(acc, model, [batch])
    assert fused_lora._cast_cache[0] is None
