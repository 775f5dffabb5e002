"""Which examples go in which micro-batch: a seeded order per epoch, so a resumed run sees the same batches.

The position in the data is just (epoch, windows done in that epoch); the order of epoch e is
`randperm(n, seed + e)`, so resuming re-derives it instead of replaying or skipping data
(transformers PR #40691, accelerate #2016).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

Collate = Callable[[list[dict[str, Any]], int], dict[str, torch.Tensor]]


def epoch_batches(
    n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1
) -> list[list[int]]:
    """Example indices of each micro-batch this process trains in `epoch`.

    Batches are cut from one shuffled order, so 8 x 1 and 2 x 4 see the same examples per step.
    >>> epoch_batches(5, 2, seed=0, epoch=0)
    [[4, 0], [1, 3], [2]]
    """
    g = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(n, generator=g).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if world > 1:  # interleaved, so W ranks x batch b see what one process sees with batch W x b;
        # every rank gets the same number of batches, or DDP would hang on the last step
        batches = batches[: len(batches) // world * world][rank::world]
    return batches


def steps_per_epoch(n: int, batch_size: int, grad_accum: int, world: int = 1) -> int:
    """Optimizer steps in one epoch; the last window of an epoch may hold fewer micro-batches."""
    n_batches = math.ceil(n / batch_size) if world == 1 else math.ceil(n / batch_size) // world
    return max(1, math.ceil(n_batches / grad_accum))


def windows(
    units: list[dict[str, Any]],
    order: list[list[int]],
    grad_accum: int,
    start: int,
    collate: Collate,
    pad_id: int,
) -> Iterator[list[dict[str, torch.Tensor]]]:
    """Collated micro-batches grouped by optimizer step, from window `start` of the epoch on.

    Each batch carries `n_tokens`, its real input tokens (a packed batch's 4D mask hides the padding).
    """
    for w in range(start * grad_accum, len(order), grad_accum):
        yield [_collate(units, idx, collate, pad_id) for idx in order[w : w + grad_accum]]


def _collate(
    units: list[dict[str, Any]], idx: list[int], collate: Collate, pad_id: int
) -> dict[str, torch.Tensor]:
    rows = [units[i] for i in idx]
    batch = collate(rows, pad_id)
    if "n_tokens" not in batch:  # a pair collate counts both answers itself
        batch["n_tokens"] = torch.tensor(sum(len(r["input_ids"]) for r in rows))
    return batch


def eval_batches(
    units: list[dict[str, Any]], batch_size: int, collate: Collate, pad_id: int
) -> Iterator[dict]:
    """Validation batches in file order."""
    for i in range(0, len(units), batch_size):
        yield collate(units[i : i + batch_size], pad_id)


def count_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Real (non-padding) input tokens of a batch, for tokens/s."""
    if "n_tokens" in batch:
        return int(batch["n_tokens"])
    mask = batch.get("attention_mask")
    if mask is not None and mask.dim() == 2:
        return int(mask.sum())
    return int(batch["input_ids"].numel())
