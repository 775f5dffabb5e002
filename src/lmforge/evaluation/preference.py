"""`lmforge eval` on task.type: preference: does the model prefer the chosen answer?

Both answers of each pair are scored by the model's mean log-prob per answer token (length-normalised,
so that a short answer does not win by being short), the same for the base and the fine-tuned model:
- `preference_accuracy`: share of pairs whose chosen answer scores higher than the rejected one;
- `reward_margin`: mean (chosen - rejected) score, in nats per token.
KTO records (one answer and a label): `reward_margin` = mean score of desirable - of undesirable answers.
"""

from __future__ import annotations

from typing import Any

import torch

from lmforge.models import pad_token_id
from lmforge.training.preference_loss import collate_kto, collate_pairs, sequence_logps

BATCH = 8  # pairs per forward (16 rows)


@torch.inference_mode()
def answer_scores(model: Any, examples: list[dict[str, Any]], pad_id: int) -> torch.Tensor:
    """(n, 2) mean token log-probs: [chosen, rejected] per pair (KTO: [answer, unused])."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(examples), BATCH):
        chunk = examples[i : i + BATCH]
        collate = collate_pairs if "rejected_ids" in chunk[0] else collate_kto
        batch = {k: v.to(device) for k, v in collate(chunk, pad_id).items()}
        logps, counts = sequence_logps(model, batch)
        avg = (logps / counts.clamp(min=1)).float().cpu()
        out.append(torch.stack([avg[: len(chunk)], avg[len(chunk) :]], dim=1))
    return torch.cat(out) if out else torch.empty((0, 2))


def preference_metrics(scores: torch.Tensor, desirable: torch.Tensor | None = None) -> dict[str, float]:
    """Accuracy and margin from (n, 2) scores (pairs), or from answer scores and labels (KTO).

    >>> preference_metrics(torch.tensor([[-1.0, -2.0], [-3.0, -2.0]]))
    {'preference_accuracy': 0.5, 'reward_margin': 0.0}
    """
    if desirable is None:
        margin = scores[:, 0] - scores[:, 1]
        return {
            "preference_accuracy": float((margin > 0).float().mean()),
            "reward_margin": float(margin.mean()),
        }
    good, bad = scores[desirable, 0], scores[~desirable, 0]
    if not len(good) or not len(bad):
        return {}
    return {"reward_margin": float(good.mean() - bad.mean())}


def preference_scores(cfg: Any, task: Any, model: Any, tokenizer: Any, records: list[dict]) -> dict[str, Any]:
    """The eval entry for a preference split: {"metrics", "details"} (nothing is generated)."""
    encoded, _ = task.encode_batch(records, tokenizer, cfg.train.max_seq_len)
    pairs = [e for e in encoded if e is not None and "rejected_ids" in e]
    unpaired = [e for e in encoded if e is not None and "kto_label" in e]
    metrics: dict[str, float] = {}
    pad_id = pad_token_id(tokenizer)
    if pairs:
        metrics.update(preference_metrics(answer_scores(model, pairs, pad_id)))
        n = len(pairs)
    if len(unpaired) > 1:  # a KTO batch needs two answers (its KL rows pair them)
        labels = torch.tensor([bool(e["kto_label"]) for e in unpaired])
        metrics.update(preference_metrics(answer_scores(model, unpaired, pad_id), labels))
        n = len(unpaired)
    if metrics and n != len(records):
        metrics["n"] = n
    return {"metrics": metrics, "details": {}}
