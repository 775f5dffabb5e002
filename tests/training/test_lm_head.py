"""The chunked head with an output transform (scale, soft-cap) equals the transform applied to full
logits: values, hidden gradients, and a trained head's weight/bias gradients; configs map to transforms."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F

import lmforge.training.head_ce as head_ce
from lmforge.training.head_ce import head_ce_sum, head_logps, transformed
from lmforge.training.lm_head import head_transform

TRANSFORMS = [(1.0, None), (0.125, None), (16.0, None), (1.0, 3.0), (2.0, 3.0)]


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_chunked_transformed_head_equals_full_logits(monkeypatch, transform):
    monkeypatch.setattr(head_ce, "CHUNK_ELEMENTS", 7 * 3)  # 3 rows a chunk: several chunks
    g = torch.Generator().manual_seed(0)
    h = torch.randn(8, 4, generator=g, requires_grad=True)
    w = torch.randn(7, 4, generator=g, requires_grad=True)
    b = torch.randn(7, generator=g, requires_grad=True)
    t = torch.randint(0, 7, (8,), generator=g)
    up = torch.randn(8, generator=g)
    ref_logits = transformed(F.linear(h, w, b).float(), transform)

    ours = head_logps(h, w, b, t, transform)  # a frozen head: per-token upstream gradients
    (ours * up).sum().backward()
    ours_h, h.grad = h.grad.clone(), None
    ref = torch.log_softmax(ref_logits, -1).gather(1, t[:, None]).squeeze(1)
    (ref * up).sum().backward(retain_graph=True)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours_h, h.grad, atol=1e-5, rtol=1e-5)

    for p in (h, w, b):
        p.grad = None
    (head_ce_sum(h, w, b, t, transform) * 0.5).backward()  # a trained head: a summed loss
    ours_grads = [p.grad.clone() for p in (h, w, b)]
    for p in (h, w, b):
        p.grad = None
    (F.cross_entropy(ref_logits, t, reduction="sum") * 0.5).backward()
    for mine, theirs in zip(ours_grads, (h.grad, w.grad, b.grad), strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)


def test_head_transform_of_each_config():
    cfg = types.SimpleNamespace
    assert head_transform(cfg()) == (1.0, None)
    assert head_transform(cfg(logits_scaling=8.0)) == (0.125, None)  # Granite divides
    assert head_transform(cfg(logit_scale=0.0625)) == (0.0625, None)  # Cohere multiplies
    assert head_transform(cfg(lm_head_multiplier=2.0)) == (2.0, None)  # Falcon-H1
    assert head_transform(cfg(final_logit_softcapping=30.0)) == (1.0, 30.0)  # Gemma 2/3
    assert head_transform(cfg(final_logit_softcapping=None, logits_scaling=1.0)) == (1.0, None)
