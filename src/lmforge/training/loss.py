"""Summed cross-entropy over label tokens only, so the trainer can normalise by a whole accumulation window.

Why by hand: `model(labels=...)` averages over each micro-batch (wrong under gradient accumulation,
transformers #34191) and builds full-vocabulary logits for every position, prompt and padding included.
Here the LM head runs only at positions whose next token is a label, chunked so that (tokens x vocabulary)
logits never exist at once (head_ce.py): for SmolLM2 (49k vocabulary) the head is a large share of the
compute and of the memory, and SFT prompts are often most of the tokens.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.training.head_ce import head_ce_sum

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
    if "pair_count" in batch:  # a preference batch: its loss is a sum over pairs (training/preference_loss.py)
        return int(batch["pair_count"])
    if is_classifier_batch(batch):
        return int(_class_labels(batch).numel())
    return int(target_mask(batch).sum())


def loss_sum(model: Any, batch: dict[str, torch.Tensor], model_logits: bool = False) -> torch.Tensor:
    """Summed CE of a batch (a 0-d fp32 tensor); divide by the window's `count_targets` for the mean.

    `model_logits`: take the model's own full logits (every output transform it has) instead of the head
    applied at label positions only; LossModule's first-batch guard switches to it on a mismatch.
    >>> loss_sum(model, collate(examples, pad_id)) / count_targets(batch)  # doctest: +SKIP
    tensor(10.83)
    """
    if is_classifier_batch(batch):
        logits = model(**_inputs(batch)).logits  # (B, C)
        return F.cross_entropy(logits.float(), _class_labels(batch), reduction="sum")
    keep = target_mask(batch)  # (B, T-1)
    targets = batch["labels"][:, 1:][keep]  # (N,)
    backbone, head = (None, None) if model_logits else split_head(model)
    if backbone is None:  # unknown layout or a head with extra maths (softcapping): full logits
        logits = model(**_inputs(batch)).logits[:, :-1][keep]  # (N, V)
        return F.cross_entropy(logits.float(), targets, reduction="sum")
    hidden = backbone(**_inputs(batch)).last_hidden_state[:, :-1][keep]  # (N, H): only where a label is
    if type(head) is torch.nn.Linear:  # chunked: never (N, V) logits at once (head_ce.py)
        return head_ce_sum(hidden, head.weight, head.bias, targets)
    return F.cross_entropy(head(hidden).float(), targets, reduction="sum")


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


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {**{k: batch[k] for k in _MODEL_INPUTS if k in batch}, **_NO_CACHE}


def _class_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return (batch["label"] if "label" in batch else batch["labels"]).long()


GUARD_RTOL = 2e-3  # bf16 autocast rounds the two paths' matmuls differently; a wrong transform is far off


class LossModule(torch.nn.Module):
    """Wraps the model so that Accelerate (autocast, DDP) sees one forward: batch -> summed CE.

    Guard: on the first LM batch the loss is compared with the model's own `forward(labels=...)` loss; a
    mismatch (an output transform the head-at-labels path does not know: Granite's logits scaling, a new
    soft-cap...) switches to the model's full logits for the rest of the run, said in one line.
    """

    def __init__(self, model: torch.nn.Module, guard: bool = True) -> None:
        super().__init__()
        self.model = model
        self.checked = not guard
        self.model_logits = False

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.checked and not is_classifier_batch(batch):
            self.checked = True
            self.model_logits = not self.guard_agrees(batch)
        return loss_sum(self.model, batch, model_logits=self.model_logits)

    def guard_agrees(self, batch: dict[str, torch.Tensor]) -> bool:
        n = count_targets(batch)
        if n == 0 or split_head(self.model)[0] is None:
            return True  # nothing to compare, or already the model's own logits
        training = self.model.training
        # eval mode: no dropout, so both paths see the same network; fork_rng: the check draws nothing from
        # the run's random streams, so a resumed run stays bit-equal to an uninterrupted one
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            self.model.eval()
            try:
                ours = float(loss_sum(self.model, batch)) / n
                reference = model_loss(self.model, batch)
            finally:
                self.model.train(training)
        if abs(ours - reference) <= GUARD_RTOL * max(abs(reference), 1e-6):
            return True
        print(
            f"lmforge: the label-position loss ({ours:.5f}) differs from the model's own loss ({reference:.5f}) "
            "on the first batch: training on the model's full logits instead",
            file=sys.stderr,
        )
        return False
