"""Summed cross-entropy over label tokens only, so the trainer can normalise by a whole accumulation window.

Why by hand: `model(labels=...)` averages over each micro-batch (wrong under gradient accumulation,
transformers #34191) and builds full-vocabulary logits for every position, prompt and padding included.
Here the LM head runs only at positions whose next token is a label, chunked so that (tokens x vocabulary)
logits never exist at once (head_ce.py): for SmolLM2 (49k vocabulary) the head is a large share of the
compute and of the memory, and SFT prompts are often most of the tokens. The head, its output transform
(Granite, Cohere, Gemma) and the guard that checks it against the model's own logits are lm_head.py's,
shared with the preference objectives, DP-SGD and eval.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lmforge.training.lm_head import GUARD_RTOL, split_head

__all__ = ["GUARD_RTOL", "IGNORE", "LossModule", "count_targets", "loss_sum", "model_loss", "split_head"]

IGNORE = -100
_MODEL_INPUTS = ("input_ids", "attention_mask", "position_ids")
_NO_CACHE = {
    "use_cache": False
}  # a cache turns off transformers' packed-sequence detection from position_ids


def is_classifier_batch(batch: dict[str, torch.Tensor]) -> bool:
    """A classifier batch has one label per row: `label` or 1-D `labels`."""
    return "label" in batch or batch["labels"].dim() == 1


def target_mask(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, T-1) bool: position t is trained to predict token t+1.

    Labels are unshifted (HF convention). In a packed row a token whose position id is 0 starts a new
    example, so the previous example's last position must not predict it (trl PR #3526).
    >>> target_mask({"labels": torch.tensor([[-100, 5, 6]])}).tolist()
    [[True, True]]
    """
    keep = batch["labels"][:, 1:] != IGNORE
    if "position_ids" in batch and batch["position_ids"].dim() == 2:
        keep = keep & (batch["position_ids"][:, 1:] != 0)
    return keep


def count_targets(batch: dict[str, torch.Tensor]) -> int:
    """Number of loss terms a batch contributes: label tokens (LM), rows (classifier) or pairs (preference)."""
    if (
        "pair_count" in batch
    ):  # a preference batch: its loss is a sum over pairs (training/preference_loss.py)
        return int(batch["pair_count"])
    if is_classifier_batch(batch):
        return int(_class_labels(batch).numel())
    return int(target_mask(batch).sum())


def loss_sum(model: Any, batch: dict[str, torch.Tensor], guard: bool = True) -> torch.Tensor:
    """Summed CE of a batch (a 0-d fp32 tensor); divide by the window's `count_targets` for the mean.

    The head runs at label positions only (lm_head.py); where its guard found a transform it does not
    know, or the layout does not split, the model's own full logits. `guard=False` skips the check.
    >>> loss_sum(model, collate(examples, pad_id)) / count_targets(batch)  # doctest: +SKIP
    tensor(10.83)
    """
    if is_classifier_batch(batch):
        logits = model(**_inputs(batch)).logits  # (B, C)
        return F.cross_entropy(logits.float(), _class_labels(batch), reduction="sum")
    keep = target_mask(batch)  # (B, T-1)
    targets = batch["labels"][:, 1:][keep]  # (N,)
    backbone, head = split_head(model, guard=guard)
    if backbone is None:  # unknown layout or a transform the guard caught: full logits
        logits = model(**_inputs(batch)).logits[:, :-1][keep]  # (N, V)
        return F.cross_entropy(logits.float(), targets, reduction="sum")
    hidden = backbone(**_inputs(batch)).last_hidden_state[:, :-1][keep]  # (N, H): only where a label is
    return head.ce_sum(hidden, targets)


def model_loss(model: Any, batch: dict[str, torch.Tensor]) -> float:
    """The model's own `forward(labels=...)` mean loss of an LM batch (the reference the guard compares with)."""
    with torch.no_grad():
        return float(model(**_inputs(batch), labels=_hf_labels(batch)).loss)


def _hf_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Labels whose HF shift gives exactly `target_mask`'s targets (document starts of packed rows masked)."""
    labels = batch["labels"].clone()
    if "position_ids" in batch and batch["position_ids"].dim() == 2:
        labels[batch["position_ids"] == 0] = IGNORE
    return labels


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {**{k: batch[k] for k in _MODEL_INPUTS if k in batch}, **_NO_CACHE}


def _class_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return (batch["label"] if "label" in batch else batch["labels"]).long()


class LossModule(torch.nn.Module):
    """Wraps the model so that Accelerate (autocast, DDP) sees one forward: batch -> summed CE.

    `guard=False` trusts the head path without lm_head.py's check against the model's own logits.
    """

    def __init__(self, model: torch.nn.Module, guard: bool = True) -> None:
        super().__init__()
        self.model = model
        self.guard = guard

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss_sum(self.model, batch, guard=self.guard)
