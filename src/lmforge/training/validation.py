"""Validation loss and perplexity, one batch at a time (nothing of size N x T x V is kept: transformers #12878)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from lmforge.training.loss import count_targets, loss_sum


@torch.no_grad()
def eval_loss(
    model: Any,
    batches: Iterable[dict[str, torch.Tensor]],
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None,
) -> dict[str, float]:
    """Mean CE per label token (per row for a classifier) over all batches, and its perplexity.

    `forward(batch)` returns the summed CE (default `loss_sum(model, batch)`); the trainer passes its loss
    module, through which a sharded (FSDP) model must be called.

    >>> eval_loss(model, [collate(val_examples[:8], pad_id)])  # doctest: +SKIP
    {'loss': 2.31, 'perplexity': 10.07, 'tokens': 412}
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        n = count_targets(batch)
        if n:
            total += float(forward(batch) if forward else loss_sum(model, batch))
            count += n
    model.train(was_training)
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": count}
