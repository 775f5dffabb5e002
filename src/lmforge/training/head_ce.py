"""The LM head at label positions, chunked, never holding (tokens x vocabulary) logits: the summed
cross-entropy (SFT) and each token's log-probability (the preference objectives).

For N label positions and a vocabulary V, `head(hidden)` then `cross_entropy` keeps an (N, V) fp32 logits
tensor and its gradient alive until the backward: for SmolLM2 (V = 49,152) and 2,048 label tokens that is
~0.8 GB. Here the forward walks the positions in chunks of CHUNK_ELEMENTS / V rows, and for each chunk
computes each token's log-prob and, when a gradient is wanted, its gradient with respect to the hidden
state, d logp_t / d hidden_t = (onehot(y_t) - softmax_t) @ W (and the summed gradient of the head weight,
if it trains), right away; the backward only scales them by the upstream gradient, one number per token.
Peak extra memory is one chunk's logits. Liger's fused linear cross-entropy does the same on CUDA; this one
is plain torch so it runs everywhere. Matmuls run in the autocast dtype when autocast is on (as
`head(hidden)` would), the softmax in fp32. `scale` and `softcap` are the output transforms some models
apply after the head (lm_head.py): logits = softcap * tanh(scale * (h W^T + b) / softcap).

>>> h, w, t = torch.randn(5, 4), torch.randn(7, 4), torch.tensor([1, 2, 3, 4, 5])
>>> bool(torch.isclose(head_ce_sum(h, w, None, t), F.cross_entropy(h @ w.T, t, reduction="sum")))
True
>>> ref = torch.log_softmax(h @ w.T, -1).gather(1, t[:, None]).squeeze(1)
>>> bool(torch.allclose(head_logps(h, w, None, t), ref, atol=1e-6))
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401  (the doctest compares with it)

CHUNK_ELEMENTS = 1 << 24  # logits per chunk (64 MB in fp32)


Transform = tuple[float, float | None]  # (scale, softcap) applied to the head's logits
PLAIN: Transform = (1.0, None)


def head_ce_sum(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    transform: Transform = PLAIN,
) -> torch.Tensor:
    """Summed CE of `hidden @ weight.T + bias` against `targets`: hidden (N, H), weight (V, H), targets (N,)."""
    return -_logps(hidden, weight, bias, targets, transform).sum()


def head_logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    transform: Transform = PLAIN,
) -> torch.Tensor:
    """(N,) fp32 log-probs of `targets` under `hidden @ weight.T + bias`. The head gets no gradient: a
    trained head takes the plain path (lm_head.py)."""
    return _logps(hidden, weight.detach(), None if bias is None else bias.detach(), targets, transform)


def _logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    transform: Transform,
) -> torch.Tensor:
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
    if not (
        torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (hidden, weight, bias))
    ):
        with torch.no_grad():
            return _chunks(hidden, weight, bias, targets, dtype, transform, grads=False)[0]
    return _HeadLogps.apply(hidden, weight, bias, targets, dtype, transform)


def transformed(logits: torch.Tensor, transform: Transform) -> torch.Tensor:
    """The model's output transform on fp32 head logits: Cohere's / Granite's scale, Gemma's soft-cap.

    >>> transformed(torch.tensor([8.0, 0.0]), (0.125, None)).tolist()
    [1.0, 0.0]
    """
    scale, cap = transform
    if scale != 1.0:
        logits = logits * scale
    return logits if not cap else torch.tanh(logits / cap) * cap


def _chunks(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    dtype: torch.dtype,
    transform: Transform,
    grads: bool,
    want_weight: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(log-probs (N,), d logp_t / d hidden_t (N, H), d sum(logp) / d weight, d sum(logp) / d bias), one
    chunk of rows at a time."""
    n, v = hidden.shape[0], weight.shape[0]
    rows = max(1, CHUNK_ELEMENTS // max(v, 1))
    w = weight.to(dtype)
    out = torch.empty(n, dtype=torch.float32, device=hidden.device)
    grad_h = torch.empty_like(hidden) if grads else None
    grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_weight else None
    grad_b = (
        torch.zeros(v, dtype=torch.float32, device=weight.device)
        if want_weight and bias is not None
        else None
    )
    with torch.autocast(hidden.device.type, enabled=False):  # the dtypes below are chosen by hand
        for s in range(0, n, rows):
            h = hidden[s : s + rows].to(dtype)
            t = targets[s : s + rows]
            logits = (h @ w.T).float()  # (C, V)
            if bias is not None:
                logits = logits + bias.float()
            logits = transformed(logits, transform)
            lse = torch.logsumexp(logits, dim=-1)  # (C,)
            out[s : s + rows] = logits.gather(1, t[:, None]).squeeze(1) - lse
            if not grads:
                continue
            d = torch.exp(logits - lse[:, None]).neg_()  # -softmax: d logp_t / d logits, (C, V)
            d[torch.arange(len(t), device=d.device), t] += 1.0
            d = _through_transform(d, logits, transform)  # d logp_t / d (h W^T + b)
            grad_h[s : s + rows] = (d.to(dtype) @ w).to(hidden.dtype)
            if grad_w is not None:
                grad_w += (d.to(dtype).T @ h).float()
                if grad_b is not None:
                    grad_b += d.sum(0)
    return out, grad_h, grad_w, grad_b


def _through_transform(d: torch.Tensor, logits: torch.Tensor, transform: Transform) -> torch.Tensor:
    """Chain rule back through `transformed`, given its output: d tanh(x / c) c / dx = 1 - (y / c)^2."""
    scale, cap = transform
    if cap:
        d = d * (1 - (logits / cap).square())
    return d * scale if scale != 1.0 else d


class _HeadLogps(torch.autograd.Function):
    """Per-token log-probs whose backward scales the gradients the forward computed. A trained head's
    weight gradient is summed over the tokens in the forward, so it needs one upstream gradient for all
    of them: a summed loss (`head_ce_sum`), checked in the backward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, dtype, transform):  # noqa: ANN001 - autograd's signature
        want_weight = weight.requires_grad or (bias is not None and bias.requires_grad)
        out, grad_h, grad_w, grad_b = _chunks(
            hidden, weight, bias, targets, dtype, transform, grads=True, want_weight=want_weight
        )
        ctx.save_for_backward(grad_h, *(() if grad_w is None else (grad_w,)))
        ctx.has_w, ctx.grad_b, ctx.w_dtype = grad_w is not None, grad_b, weight.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        saved = ctx.saved_tensors
        grad_h = saved[0] * grad_out[:, None].to(saved[0].dtype)
        grad_w = grad_b = None
        if ctx.has_w or ctx.grad_b is not None:
            one = grad_out[0] if grad_out.numel() else grad_out.new_zeros(())
            if not bool((grad_out == one).all()):
                raise RuntimeError("a trained LM head's chunked gradient needs a summed loss")
            grad_w = (saved[1] * one).to(ctx.w_dtype) if ctx.has_w else None
            grad_b = ctx.grad_b * one if ctx.grad_b is not None else None
        return grad_h, grad_w, grad_b, None, None, None
