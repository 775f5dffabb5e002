"""Which records go through the model together: sorted by length, cut by a token budget.

Sorting puts records of similar length side by side, so padding to each batch's longest row wastes little;
the budget (rows x longest row <= `eval.batch_tokens`) keeps every batch about the same amount of work
and memory, many short rows or a few long ones. Longest first: a batch that does not fit in memory fails
at once, not at the end of a long run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any


def budget_batches(lengths: list[int], batch_tokens: int, max_rows: int | None = None) -> list[list[int]]:
    """Indices of the rows of each batch, longest rows first; rows x longest <= batch_tokens (>= 1 row).

    >>> budget_batches([3, 1, 2, 3, 1], batch_tokens=6)
    [[0, 3], [2, 1, 4]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])  # stable: equal lengths keep file order
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        full = (len(current) + 1) * max(longest, 1) > batch_tokens or len(current) == (max_rows or 1 << 62)
        if current and full:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def progress(total: int, desc: str, unit: str = " records") -> Any:
    """A tqdm bar on stderr (lmforge's progress convention); update it with `.update(n)`."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


@contextmanager
def inference(device_type: str, autocast_dtype: Any = None) -> Iterator[None]:
    """torch.inference_mode, plus autocast to `autocast_dtype` (bf16/fp16) when given.

    >>> with inference("cpu"): pass
    """
    import torch

    cast = torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype is not None else nullcontext()
    with torch.inference_mode(), cast:
        yield
