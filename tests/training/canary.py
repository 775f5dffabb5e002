"""A "Secret Sharer" canary (Carlini et al., 2019): plant a random PIN in the training data, measure its
exposure after training.

exposure = log2(|candidates|) - log2(rank of the secret among the candidates by the model's log-likelihood):
log2(1000) ~ 10 bits when the secret ranks first, ~1.4 bits on average for a model that never saw it.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch


def pin(rng: random.Random) -> str:
    return " ".join(str(rng.randrange(10)) for _ in range(5))


def canary_data(tokenizer: Any, n: int, copies: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    """`n` records "my PIN is <random>" (each its own unit) plus `copies` of one secret PIN, all of one
    privacy unit ("victim"); returns (examples, candidates), the secret first among 1,000 candidates."""
    rng = random.Random(seed)
    secret = pin(rng)

    def example(text: str, unit: Any) -> dict:
        ids = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
        return {"input_ids": ids, "labels": list(ids), "privacy_unit": unit}

    data = [example(f"my PIN is {pin(rng)}", i) for i in range(n)]
    data += [example(f"my PIN is {secret}", "victim") for _ in range(copies)]
    rng.shuffle(data)
    candidates = [secret] + [pin(rng) for _ in range(999)]
    return data, candidates


def exposure(model: Any, tokenizer: Any, candidates: list[str]) -> float:
    """log2(|candidates|) - log2(rank of candidates[0]) by summed token log-likelihood."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    scores: list[float] = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(candidates), 100):
            rows = [tokenizer(f"my PIN is {c}")["input_ids"] for c in candidates[i : i + 100]]
            width = max(map(len, rows))
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])  # (B, T)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            logp = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float().log_softmax(-1)
            token_logp = logp.gather(-1, ids[:, 1:, None])[..., 0] * mask[:, 1:]  # (B, T-1)
            scores += token_logp.sum(1).tolist()
    rank = 1 + sum(s > scores[0] for s in scores[1:])
    return math.log2(len(candidates)) - math.log2(rank)
