"""The chunked head cross-entropy equals head(hidden) + cross_entropy, and never holds (N, V) logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import lmforge.training.head_ce as head_ce
from lmforge.training.head_ce import head_ce_sum


def _reference(hidden, weight, bias, targets):
    logits = F.linear(hidden, weight, bias)
    return F.cross_entropy(logits.float(), targets, reduction="sum")


@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("train_head", [False, True])
def test_loss_and_gradients_equal_the_plain_head(monkeypatch, autocast, train_head):
    monkeypatch.setattr(head_ce, "CHUNK_ELEMENTS", 7 * 50)  # 7 rows a chunk: several chunks and a short one
    torch.manual_seed(0)
    n, h, v = 30, 16, 50
    weight = torch.randn(v, h, requires_grad=train_head)
    bias = torch.randn(v, requires_grad=train_head) if train_head else None
    targets = torch.randint(0, v, (n,))
    results = []
    for fn in (_reference, head_ce_sum):
        hidden = torch.randn(n, h, generator=torch.Generator().manual_seed(1), requires_grad=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = fn(hidden * 1.0, weight, bias, targets)
        (loss * 0.25).backward()  # a scaled loss, as the trainer divides by the window's label tokens
        grads = [hidden.grad.clone()] + ([weight.grad.clone(), bias.grad.clone()] if train_head else [])
        for p in (weight, bias):
            if p is not None and p.grad is not None:
                p.grad = None
        results.append((loss.detach(), grads))
    tol = {"rtol": 2e-2, "atol": 2e-2} if autocast else {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(results[1][0], results[0][0], **tol)
    for ours, ref in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(ours, ref, **tol)


class _LargestTensor(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_no_tensor_of_tokens_times_vocabulary_is_ever_made(monkeypatch):
    monkeypatch.setattr(head_ce, "CHUNK_ELEMENTS", 64 * 4096)
    n, h, v = 1024, 8, 4096
    hidden = torch.randn(n, h, requires_grad=True)
    weight = torch.randn(v, h)
    targets = torch.randint(0, v, (n,))
    with _LargestTensor() as seen:
        head_ce_sum(hidden, weight, None, targets).backward()
    assert seen.largest <= 64 * 4096 < n * v  # one chunk's logits at most
    with _LargestTensor() as plain:
        _reference(hidden, weight, None, targets).backward()
    assert plain.largest >= n * v  # the check sees the full logits when they exist
