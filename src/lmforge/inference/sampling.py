"""Per-row sampling inside one batched `model.generate`: each row its temperature, top_p and seed.

transformers' `generate` samples a whole batch with one setting from the global random generator, so a
seeded request would change with its batch-mates; this logits processor samples each sampling row from its
own `torch.Generator` and leaves greedy rows as they are. A row whose sampling still fails (settings the
schema let through, NaN logits) gets `row.error` and its greedy token; the batcher ends that row alone.
"""

from __future__ import annotations

import secrets
from typing import Any

import torch
from transformers import LogitsProcessor

MIN_TEMPERATURE = 1e-5  # below this, scores / temperature overflows float32: such a row is greedy
SEED_BITS = 63  # torch.Generator.manual_seed takes a 64-bit seed; OpenAI's `seed` is any integer


def fold_seed(seed: int) -> int:
    """Any integer as a seed manual_seed takes; seeds below 2**63 are unchanged.

    >>> fold_seed(7), fold_seed(2**70 + 7), fold_seed(-1)
    (7, 7, 9223372036854775807)
    """
    return seed % (1 << SEED_BITS)


def is_greedy(temperature: float, top_p: float) -> bool:
    """A row argmax serves: temperature (nearly) 0, or top_p 0 (only the most likely token has mass 0 above it).

    >>> is_greedy(1e-40, 1.0), is_greedy(0.7, 0.0), is_greedy(0.7, 0.9)
    (True, True, False)
    """
    return temperature < MIN_TEMPERATURE or top_p <= 0


class RowSampler(LogitsProcessor):
    """Samples each sampling row with its own temperature, top_p and generator; greedy rows pass unchanged.

    The sampled token is returned as the only finite score, so generate's argmax picks it."""

    def __init__(self, rows: list[Any]) -> None:  # batcher.Row: temperature, top_p, seed, reason
        self.rows = rows
        self.generators: dict[int, torch.Generator] = {}

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:  # scores (B, V)
        for b, row in enumerate(self.rows):
            if is_greedy(row.temperature, row.top_p) or row.reason is not None or row.error:
                continue
            try:
                token = self._sample(b, row, scores[b])
            except Exception as e:  # this row fails alone; its batch-mates go on (argmax fills its slot)
                row.error = f"{type(e).__name__}: {e}"
                continue
            scores[b] = float("-inf")
            scores[b, token] = 0.0
        return scores

    def _sample(self, b: int, row: Any, scores: torch.Tensor) -> torch.Tensor:  # scores (V,)
        probs = top_p_filter(torch.softmax(scores / row.temperature, dim=-1), row.top_p)
        return torch.multinomial(probs, 1, generator=self._generator(b, row, scores.device))

    def _generator(self, b: int, row: Any, device: torch.device) -> torch.Generator:
        if b not in self.generators:
            seed = fold_seed(row.seed) if row.seed is not None else secrets.randbits(SEED_BITS)
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
    drop = before >= top_p
    drop[..., 0] = False  # the most likely token stays, even for top_p 0 (else 0 / 0)
    ordered[drop] = 0.0
    kept = torch.zeros_like(probs).scatter_(-1, order, ordered)
    return kept / kept.sum()
