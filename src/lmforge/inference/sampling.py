"""Per-row sampling inside one batched `model.generate`: each row its temperature, top_p and seed.

transformers' `generate` samples a whole batch with one setting from the global random generator, so a
seeded request would change with its batch-mates; this logits processor samples each sampling row from its
own `torch.Generator` and leaves greedy rows as they are.
"""

from __future__ import annotations

import secrets
from typing import Any

import torch
from transformers import LogitsProcessor


class RowSampler(LogitsProcessor):
    """Samples each sampling row with its own temperature, top_p and generator; greedy rows pass unchanged.

    The sampled token is returned as the only finite score, so generate's argmax picks it."""

    def __init__(self, rows: list[Any]) -> None:  # batcher.Row: temperature, top_p, seed, reason
        self.rows = rows
        self.generators: dict[int, torch.Generator] = {}

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:  # scores (B, V)
        for b, row in enumerate(self.rows):
            if row.temperature <= 0 or row.reason is not None:
                continue
            probs = torch.softmax(scores[b] / row.temperature, dim=-1)  # (V,)
            probs = top_p_filter(probs, row.top_p)
            token = torch.multinomial(probs, 1, generator=self._generator(b, row, scores.device))
            scores[b] = float("-inf")
            scores[b, token] = 0.0
        return scores

    def _generator(self, b: int, row: Any, device: torch.device) -> torch.Generator:
        if b not in self.generators:
            seed = row.seed if row.seed is not None else secrets.randbits(63)
            self.generators[b] = torch.Generator(device=device).manual_seed(seed)
        return self.generators[b]


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the most likely tokens whose mass reaches top_p (at least one); renormalised.

    >>> top_p_filter(torch.tensor([0.5, 0.3, 0.2]), 0.7).tolist()
    [0.625, 0.375, 0.0]
    """
    if top_p >= 1.0:
        return probs
    ordered, order = torch.sort(probs, descending=True)
    before = torch.cumsum(ordered, dim=-1) - ordered  # mass of the tokens ranked above each one
    ordered[before >= top_p] = 0.0  # the first token has 0 before it: always kept
    kept = torch.zeros_like(probs).scatter_(-1, order, ordered)
    return kept / kept.sum()
