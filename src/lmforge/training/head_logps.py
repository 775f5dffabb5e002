"""Per-token log-probabilities of the LM head at answer positions, chunked: no (tokens x vocabulary) logits.

The preference objectives need each answer token's log-prob (summed per row), not one summed loss, so
head_ce.py's trick (the gradient is computed in the forward and only scaled in the backward) applies per
token: the forward keeps d logp_t / d hidden_t = (onehot(y_t) - softmax_t) @ W, an (N, H) tensor, and the
backward multiplies it by each token's upstream gradient. Peak extra memory is one chunk's logits instead of
(N, V) fp32 logits, their log-softmax and its gradient (for SmolLM2, 1,200 answer tokens: ~0.7 GB). Only
for a frozen head (LoRA; the head is never a LoRA target): a trained head takes the plain path.

>>> h, w, t = torch.randn(5, 4), torch.randn(7, 4), torch.tensor([1, 2, 3, 4, 5])
>>> ref = torch.log_softmax(h @ w.T, -1).gather(1, t[:, None]).squeeze(1)
>>> bool(torch.allclose(head_logps(h, w, None, t), ref, atol=1e-6))
True
"""

from __future__ import annotations

import torch

from lmforge.training.head_ce import CHUNK_ELEMENTS, _compute_dtype


def head_logps(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor
) -> torch.Tensor:
    """(N,) fp32 log-probs of `targets` under `hidden @ weight.T + bias`: hidden (N, H), weight (V, H)."""
    dtype = _compute_dtype(hidden)
    if torch.is_grad_enabled() and hidden.requires_grad:
        return _HeadLogps.apply(hidden, weight.detach(), bias, targets, dtype)
    with torch.no_grad():
        return _chunks(hidden, weight, bias, targets, dtype, grads=False)[0]


def _chunks(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    dtype: torch.dtype,
    grads: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(log-probs (N,), d logp / d hidden (N, H) or None), one chunk of rows at a time."""
    n, v = hidden.shape[0], weight.shape[0]
    rows = max(1, CHUNK_ELEMENTS // max(v, 1))
    w = weight.to(dtype)
    out = torch.empty(n, dtype=torch.float32, device=hidden.device)
    grad_h = torch.empty_like(hidden) if grads else None
    with torch.autocast(hidden.device.type, enabled=False):  # the dtypes below are chosen by hand
        for s in range(0, n, rows):
            t = targets[s : s + rows]
            logits = (hidden[s : s + rows].to(dtype) @ w.T).float()  # (C, V)
            if bias is not None:
                logits = logits + bias.float()
            lse = torch.logsumexp(logits, dim=-1)  # (C,)
            out[s : s + rows] = logits.gather(1, t[:, None]).squeeze(1) - lse
            if not grads:
                continue
            d = torch.exp(logits - lse[:, None]).neg_()  # -softmax: d logp_t / d logits, (C, V)
            d[torch.arange(len(t), device=d.device), t] += 1.0
            grad_h[s : s + rows] = (d.to(dtype) @ w).to(hidden.dtype)
    return out, grad_h


class _HeadLogps(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, dtype):  # noqa: ANN001 - autograd's signature
        out, grad_h = _chunks(hidden, weight, bias, targets, dtype, grads=True)
        ctx.save_for_backward(grad_h)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        (grad_h,) = ctx.saved_tensors
        return grad_h * grad_out[:, None].to(grad_h.dtype), None, None, None, None
