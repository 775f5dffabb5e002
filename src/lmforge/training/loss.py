"""Summed cross-entropy over label tokens only, so the trainer can normalise by a whole accumulation window.

Why by hand: `model(labels=...)` averages over each micro-batch (wrong under gradient accumulation,
transformers #34191) and builds full-vocabulary logits for every position, prompt and padding included.
Here the LM head runs only at positions whose next token is a label: for SmolLM2 (49k vocabulary) the
head is a large share of the compute, and SFT prompts are often most of the tokens.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORE = -100
_MODEL_INPUTS = ("input_ids", "attention_mask", "position_ids")


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
    """Number of loss terms a batch contributes: label tokens (LM) or rows (classifier)."""
    if is_classifier_batch(batch):
        return int(_class_labels(batch).numel())
    return int(target_mask(batch).sum())


def loss_sum(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed CE of a batch (a 0-d fp32 tensor); divide by the window's `count_targets` for the mean.

    >>> loss_sum(model, collate(examples, pad_id)) / count_targets(batch)  # doctest: +SKIP
    tensor(10.83)
    """
    if is_classifier_batch(batch):
        logits = model(**_inputs(batch)).logits  # (B, C)
        return F.cross_entropy(logits.float(), _class_labels(batch), reduction="sum")
    keep = target_mask(batch)  # (B, T-1)
    targets = batch["labels"][:, 1:][keep]  # (N,)
    backbone, head = split_head(model)
    if backbone is None:  # unknown layout or a head with extra maths (softcapping): full logits
        logits = model(**_inputs(batch)).logits[:, :-1][keep]  # (N, V)
    else:
        hidden = backbone(**_inputs(batch)).last_hidden_state  # (B, T, H)
        logits = head(hidden[:, :-1][keep])  # (N, V): the head only where a label is
    return F.cross_entropy(logits.float(), targets, reduction="sum")


def split_head(model: Any) -> tuple[Any, Any]:
    """(backbone, LM head) of a causal LM, through a peft wrapper; (None, None) when not safely separable."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if (
        config is None
        or getattr(config, "final_logit_softcapping", None)
        or getattr(config, "logit_scale", None)
    ):
        return None, None
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    backbone = getattr(base, getattr(base, "base_model_prefix", ""), None)
    if head is None or backbone is None or backbone is base:
        return None, None
    return backbone, head


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in _MODEL_INPUTS if k in batch}


def _class_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return (batch["label"] if "label" in batch else batch["labels"]).long()


class LossModule(torch.nn.Module):
    """Wraps the model so that Accelerate (autocast, DDP) sees one forward: batch -> summed CE."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss_sum(self.model, batch)
