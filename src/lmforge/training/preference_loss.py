"""The preference objectives in the training loop: pair batches, answer log-probs, the reference model.

- `collate_pairs` / `collate_kto` turn tokenised preference examples (tasks/preference.py) into one
  batch of 2B right-padded rows, so chosen and rejected go through one forward.
- `PreferenceLoss` is the module the loop calls: batch -> the summed per-pair loss (the loop divides by the
  window's pair count, `count_targets`), with rewards/margins/accuracy kept for the metrics rows.
- The reference model costs no second copy. With LoRA it is the base with the adapter disabled
  (peft's `disable_adapter()`); for a full fine-tune its log-probs are computed once before training
  (`precompute_reference`) and travel with the examples.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.training.lm_head import split_head
from lmforge.training.objectives import NEEDS_REFERENCE, kto_pair_losses, pair_losses

IGNORE = -100


def _rows(rows: list[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    """(ids, prompt length) rows -> input_ids, attention_mask, labels (-100 on prompt and padding)."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, p) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        labels[i, p : len(ids)] = input_ids[i, p : len(ids)]
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def collate_pairs(examples: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """B pairs -> 2B rows: (B, T) chosen then (B, T) rejected, padded to one width.

    >>> collate_pairs([{"input_ids": [1, 5, 6], "prompt_len": 1, "rejected_ids": [7]}], 0)["labels"]
    tensor([[-100,    5,    6],
            [-100,    7, -100]])
    """
    chosen = [(e["input_ids"], e["prompt_len"]) for e in examples]
    rejected = [(e["input_ids"][: e["prompt_len"]] + e["rejected_ids"], e["prompt_len"]) for e in examples]
    batch = _rows(chosen + rejected, pad_id)
    batch["pair_count"] = torch.tensor(len(examples))
    batch["n_tokens"] = batch["attention_mask"].sum()
    if "ref_logps" in examples[0]:  # (2B,): chosen then rejected, as the rows
        batch["ref_logps"] = torch.tensor([e["ref_logps"][k] for k in (0, 1) for e in examples])
    return batch


def collate_kto(examples: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """B answers -> 2B rows: the B (prompt, completion) rows, then B KL rows pairing prompt i with
    completion i-1 (KTO's estimate of the policy's KL from the reference, cycled as TRL's KTOTrainer does)."""
    prompts = [e["input_ids"][: e["prompt_len"]] for e in examples]
    answers = [e["input_ids"][e["prompt_len"] :] for e in examples]
    rows = [(e["input_ids"], e["prompt_len"]) for e in examples]
    n = len(examples)
    kl = [(prompts[i] + answers[i - 1], len(prompts[i])) for i in range(n)]
    batch = _rows(rows + kl, pad_id)
    batch["pair_count"] = torch.tensor(n)
    batch["kto_label"] = torch.tensor([bool(e["kto_label"]) for e in examples])
    batch["n_tokens"] = torch.tensor(sum(len(e["input_ids"]) for e in examples))
    if "ref_logps" in examples[0]:
        batch["ref_logps"] = torch.tensor([e["ref_logps"][k] for k in (0, 1) for e in examples])
    return batch


def collate_for(objective: str) -> Any:
    return collate_kto if objective == "kto" else collate_pairs


def sequence_logps(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows,) summed log-probs of each row's labelled tokens, and (rows,) their counts.

    The LM head runs only at label positions (the answers), never on the prompt or padding. When the
    model's attention keeps packed documents apart (`lmforge_docs`, FlashAttention) the padded rows go
    through the backbone as one packed row: no compute on padding (TRL 1.16's padding_free is off).
    The head and its output transform are lm_head.py's, behind its guard, as for the SFT loss.
    """
    labels = batch["labels"][:, 1:]  # (R, T-1): token t+1 is predicted at position t
    keep = labels != IGNORE
    counts = keep.sum(dim=1)
    backbone, head = split_head(model)
    if backbone is None:  # unknown layout or a transform the guard caught: the model's own logits
        logits = model(**_padded(batch)).logits[:, :-1][keep]  # (N, V)
        rows, targets = keep.nonzero()[:, 0], labels[keep]
        token_logps = -F.cross_entropy(logits.float(), targets, reduction="none")  # (N,)
    else:
        hidden, targets, rows = _answer_hidden(model, backbone, batch)  # (N, H), (N,), (N,)
        token_logps = head.logps(hidden, targets)
    summed = torch.zeros(labels.shape[0], device=token_logps.device).index_add(0, rows, token_logps)
    return summed, counts


def _answer_hidden(model: Any, backbone: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The backbone's hidden states at the label positions, their targets and row of each, in row order."""
    labels, mask = batch["labels"], batch["attention_mask"].bool()
    if not _packs_documents(model):
        keep = labels[:, 1:] != IGNORE
        hidden = backbone(**_padded(batch)).last_hidden_state[:, :-1][keep]  # (N, H)
        return hidden, labels[:, 1:][keep], keep.nonzero()[:, 0]
    # right-padded rows, read row by row: each row's tokens stay contiguous and in order
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)[mask][None]  # (1, M)
    row_of = torch.arange(mask.shape[0], device=mask.device)[:, None].expand_as(mask)[mask]  # (M,)
    flat = labels[mask][None]  # (1, M)
    keep = (flat[:, 1:] != IGNORE) & (positions[:, 1:] != 0)  # (1, M-1): never across two rows
    inputs = {"input_ids": batch["input_ids"][mask][None], "position_ids": positions, "use_cache": False}
    hidden = backbone(**inputs).last_hidden_state[:, :-1][keep]  # (N, H): answers only
    return hidden, flat[:, 1:][keep], row_of[:-1][keep[0]]


def _padded(batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "use_cache": False}


def _packs_documents(model: Any) -> bool:
    """True when the model's attention keeps the documents of one packed row apart by their position ids."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base.config, "_attn_implementation", None) in ("lmforge_docs", "flash_attention_2")


def reference_logps(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The reference model's (rows,) log-probs: cached in the batch, else the base under the disabled adapter."""
    if "ref_logps" in batch:
        return batch["ref_logps"].float()
    if not hasattr(model, "disable_adapter"):
        raise RuntimeError(
            "a full fine-tune needs the reference log-probs precomputed (precompute_reference)"
        )
    with torch.no_grad(), model.disable_adapter():
        return sequence_logps(model, batch)[0]


def disable_dropout(model: torch.nn.Module) -> int:
    """Set every dropout of the model to 0 (TRL's `disable_dropout`, default on); returns how many.

    The policy pass runs with LoRA dropout and the model's own dropout, the reference pass (adapter
    disabled, no LoRA dropout) without, so rewards and margins were biased from step 0. Besides the
    nn.Dropout modules (TRL stops there), the float `attention_dropout` that Llama-style attention passes
    to its kernel in training mode is zeroed too.
    >>> disable_dropout(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)))
    1
    """
    n = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and module.p:
            module.p, n = 0.0, n + 1
        if isinstance(getattr(module, "attention_dropout", None), float) and module.attention_dropout:
            module.attention_dropout, n = 0.0, n + 1
    return n


class PreferenceLoss(torch.nn.Module):
    """batch -> summed per-pair loss of `train.objective`; keeps reward sums per mode for the metrics.

    Dropout is switched off in the model unless `train.preference_dropout` (disable_dropout)."""

    def __init__(self, model: torch.nn.Module, train_cfg: Any) -> None:
        super().__init__()
        if not getattr(train_cfg, "preference_dropout", False):
            disable_dropout(model)
        self.model = model
        self.t = train_cfg
        self.objective = train_cfg.objective
        self.stats: dict[str, dict[str, float]] = {"train": _zero(), "val": _zero()}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logps, counts = sequence_logps(self.model, batch)
        needs_ref = self.objective in NEEDS_REFERENCE
        ref = reference_logps(self.model, batch).to(logps.device) if needs_ref else None
        if self.objective == "kto":
            out, _ = kto_pair_losses(self.t, logps, ref, batch["kto_label"].bool())
        else:
            out = pair_losses(self.objective, self.t, logps, counts, ref)
        self._keep(out, paired=self.objective != "kto")
        return out.loss_sum

    def _keep(self, out: Any, paired: bool) -> None:
        s = self.stats["train" if self.training else "val"]
        c, r = out.chosen_rewards.float(), out.rejected_rewards.float()
        s["pairs"] += float(out.losses.numel())
        s["chosen"], s["n_chosen"] = s["chosen"] + float(c.sum()), s["n_chosen"] + c.numel()
        s["rejected"], s["n_rejected"] = s["rejected"] + float(r.sum()), s["n_rejected"] + r.numel()
        if paired:
            s["margin"] += float((c - r).sum())
            s["correct"] += float((c > r).sum())

    def pop_stats(self, mode: str = "train") -> dict[str, float]:  # keys: stat_keys() below
        """The mean rewards, margin and pair accuracy since the last call, as metrics-row keys."""
        s, self.stats[mode] = self.stats[mode], _zero()
        prefix = "" if mode == "train" else "val_"
        row = {}
        if s["n_chosen"]:
            row[f"{prefix}rewards/chosen"] = s["chosen"] / s["n_chosen"]
        if s["n_rejected"]:
            row[f"{prefix}rewards/rejected"] = s["rejected"] / s["n_rejected"]
        if s["pairs"] and self.objective != "kto":
            row[f"{prefix}rewards/margin"] = s["margin"] / s["pairs"]
            row[f"{prefix}rewards/accuracy"] = s["correct"] / s["pairs"]
        return {k: round(v, 6) for k, v in row.items()}


def stat_keys(objective: str, mode: str = "train") -> list[str]:
    """The metrics-row keys pop_stats can give for `objective` ([] for sft and grpo)."""
    if objective in ("sft", "grpo"):
        return []
    prefix = "" if mode == "train" else "val_"
    names = ["chosen", "rejected"] + ([] if objective == "kto" else ["margin", "accuracy"])
    return [f"{prefix}rewards/{n}" for n in names]


def _zero() -> dict[str, float]:
    return dict.fromkeys(("pairs", "chosen", "n_chosen", "rejected", "n_rejected", "margin", "correct"), 0.0)


@torch.no_grad()
def precompute_reference(
    model: Any, examples: list[dict[str, Any]], pad_id: int, batch_size: int, autocast: Any = nullcontext
) -> list[dict[str, Any]]:
    """Store the untrained model's log-probs in each pair example as `ref_logps` [chosen, rejected]: a
    full fine-tune's reference, computed once before its first step (under the training's autocast, so
    that the policy starts with rewards of exactly 0). KTO's KL rows depend on the batch: not cached.

    >>> precompute_reference(model, examples, pad_id=0, batch_size=8)[0]["ref_logps"]  # doctest: +SKIP
    [-12.41, -15.02]
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        batch = {k: v.to(device) for k, v in collate_pairs(chunk, pad_id).items()}
        with autocast():
            logps = sequence_logps(model, batch)[0].float().cpu()
        for j, e in enumerate(chunk):
            e["ref_logps"] = [float(logps[j]), float(logps[len(chunk) + j])]
    model.train(was_training)
    return examples


def cache_reference(
    cfg: Any, model: Any, splits: list[list[dict[str, Any]]], pad_id: int, autocast: Any
) -> None:
    """Before the first step: a full fine-tune of a referenced objective (dpo, ipo) stores the untrained
    model's log-probs in its examples; with LoRA (or for ORPO/SimPO) nothing is needed. KTO's reference
    point pairs answers across a batch, so a full-fine-tune KTO is refused rather than approximated."""
    from lmforge.errors import UserError
    from lmforge.training.chain import continues

    objective = cfg.train.objective
    # model.from_adapter: continue: the model as loaded (the SFT adapter on) is the reference, not its base
    if objective not in NEEDS_REFERENCE or (cfg.model.lora is not None and not continues(cfg)):
        return
    if objective == "kto":
        raise UserError("train.objective: kto needs model.lora (its reference is the base under the adapter)")
    for split in splits:
        if split:
            precompute_reference(model, split, pad_id, cfg.train.batch_size, autocast)


def stats_row(wrapped: Any, mode: str = "train") -> dict[str, float]:
    """The preference metrics of the loop's loss module since the last row ({} for sft)."""
    module = getattr(wrapped, "module", wrapped)  # DDP wraps the module
    return module.pop_stats(mode) if isinstance(module, PreferenceLoss) else {}
