"""Paraphrases by any model lmforge can load, batched through `lmforge.inference.generation.generate`.

The sampler is seeded once before the batches, so the same seed, model and inputs give the same
paraphrases on the same machine (CPU kernels; a GPU may differ in the last digits and so in the samples).
"""

from __future__ import annotations

import re
from typing import Any

from lmforge.errors import UserError

_LEAD = re.compile(
    r"^(?:sure[,!.]?\s*)?(?:here(?:'s| is) (?:the |a )?(?:rewritten|paraphrased)[^:\n]*:\s*)?", re.IGNORECASE
)


def clean(text: str) -> str:
    """Strip the chatter small models wrap around an answer.

    >>> clean('Sure! Here is the rewritten text: "Nice shoes."')
    'Nice shoes.'
    """
    t = _LEAD.sub("", text.strip()).strip()
    if len(t) > 1 and t[0] == t[-1] and t[0] in "\"'":
        t = t[1:-1].strip()
    return t


def paraphrase(texts: list[str], cfg: Any, seed: int) -> list[tuple[str, str | None]]:
    """For each text, (paraphrase, None), or (what came out, reason) when it is unfinished or empty.

    `cfg` is a ParaphraseConfig; its prompt must contain `{text}`.
    >>> paraphrase(["The food was cold."], ParaphraseConfig(n=1), 42)  # doctest: +SKIP
    [('The meal arrived cold.', None)]
    """
    if "{text}" not in cfg.prompt:
        raise UserError("data.augment.paraphrase.prompt: must contain {text}")
    if not texts:
        return []
    import torch

    from lmforge.inference.generation import generate, load_for_inference

    try:
        model, tok = load_for_inference(cfg.model)
    except (OSError, ValueError) as e:
        raise UserError(
            f"data.augment.paraphrase.model: cannot load '{cfg.model}' ({str(e)[:200]})"
        ) from None
    torch.manual_seed(seed)
    prompts = [cfg.prompt.replace("{text}", t) for t in texts]
    gens = generate(
        model,
        tok,
        prompts,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        batch_size=cfg.batch_size,
    )
    out: list[tuple[str, str | None]] = []
    for g in gens:
        text = clean(g.text)  # kept in the reject too, so a bad prompt shows in rejects.jsonl
        if not g.finished:
            out.append((text, f"paraphrase unfinished after {cfg.max_new_tokens} tokens"))
        else:
            out.append((text, None if text else "empty paraphrase"))
    return out
