"""The one forward pass of eval: log-probabilities of chosen tokens, without full-vocabulary logits.

A scoring *unit* is one row for the model: `input_ids`, optional `position_ids` and `segments` (a tree of
branches sharing a trunk, see label_rows.py), and the tokens to score as three lists: `pred` (the position
whose output predicts the token), `target` (the token id) and `group` (which sum it adds to: 0 for a
plain example, the label index for a label branch). A batch of units gives, per unit and group, the
summed log-probability and the number of tokens: loss, perplexity and label scores all come from it.

The LM head runs only at the `pred` positions, a chunk of positions at a time, through the
backbone/head split of training/lm_head.py (the one every training objective uses, output transforms
included: Granite, Cohere, Gemma); where its guard found a transform it does not know, the model's own
forward with a boolean `logits_to_keep` computes the head, transform included, at those positions only.
Nothing of size batch x sequence x vocabulary is built (transformers #12878, #26474).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.evaluation.batching import budget_batches, progress
from lmforge.evaluation.shared_prefix import backbone_of, prefix_limit, shared_prefix, with_prefix_cache
from lmforge.training.loss import IGNORE, split_head

GUARD_TOKENS = 64  # tokens of the row the head guard compares on
HEAD_CHUNK = 1 << 22  # logits per LM-head call: 4M fp32 values = 16 MB, ~85 positions of a 49k vocabulary

Unit = dict[str, Any]


def example_unit(example: dict[str, Any]) -> Unit:
    """A tokenised training example as a unit: position t predicts label t + 1 (labels are unshifted).

    >>> example_unit({"input_ids": [5, 6, 7], "labels": [-100, 6, 7]})["pred"]
    [0, 1]
    """
    labels = example["labels"]
    pred = [t for t in range(len(labels) - 1) if labels[t + 1] != IGNORE]
    return {
        "input_ids": example["input_ids"],
        "pred": pred,
        "target": [labels[t + 1] for t in pred],
        "group": [0] * len(pred),
    }


def collate_units(units: list[Unit], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded model inputs, plus the scored positions flattened over the batch (rows, cols, ...).

    Plain rows get a (B, T) attention mask; when any unit has `segments`, a (B, 1, T, T) additive mask in
    which a token sees earlier tokens of its own segment and of the trunk (segment 0).
    """
    width = max(len(u["input_ids"]) for u in units)
    ids = torch.full((len(units), width), pad_id, dtype=torch.long)
    pos = torch.arange(width).repeat(len(units), 1)
    seg = torch.full((len(units), width), -1, dtype=torch.long)  # -1: padding, its own segment
    for i, u in enumerate(units):
        n = len(u["input_ids"])
        ids[i, :n] = torch.tensor(u["input_ids"])
        if u.get("position_ids"):
            pos[i, :n] = torch.tensor(u["position_ids"])
        seg[i, :n] = torch.tensor(u["segments"]) if u.get("segments") else 0
    out = {"input_ids": ids, "position_ids": pos}
    if any(u.get("segments") for u in units):
        out["attention_mask"] = tree_mask(seg)
    else:
        out["attention_mask"] = (seg >= 0).long()
    rows = [i for i, u in enumerate(units) for _ in u["pred"]]
    out["rows"] = torch.tensor(rows, dtype=torch.long)
    # shareable: the leading tokens of all rows, within each tree's trunk, before any scored position
    lengths = [u["segments"].count(0) + 1 if u.get("segments") else len(u["input_ids"]) for u in units]
    limit = prefix_limit(lengths, [min(u["pred"], default=len(u["input_ids"])) for u in units])
    out["prefix"] = torch.tensor(shared_prefix([u["input_ids"] for u in units], limit))
    for key in ("pred", "target", "group"):
        out[key] = torch.tensor([x for u in units for x in u[key]], dtype=torch.long)
    return out


def tree_mask(seg: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, 1, T, T) additive causal mask: q sees k <= q when seg[k] is 0 (the trunk) or seg[k] == seg[q].

    >>> (tree_mask(torch.tensor([[0, 1, 2]]))[0, 0] == 0).int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 0, 1]]
    """
    q, k = seg[:, :, None], seg[:, None, :]
    same = (k == q) | ((k == 0) & (q >= 0))
    allowed = (same & torch.ones(seg.shape[1], seg.shape[1], dtype=torch.bool).tril()).unsqueeze(1)
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


def score_batch(model: Any, batch: dict[str, torch.Tensor], own_head: bool = False) -> torch.Tensor:
    """(N,) fp32 log-probability of each scored token of a collated batch, one forward.

    `own_head`: the model's own forward computes the head (head_matches_model said the split is unsafe).
    """
    device = next(model.parameters()).device
    inputs: dict[str, Any] = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "position_ids")}
    inputs["use_cache"] = False  # a KV cache is memory for nothing here
    rows, cols, targets = (batch[k].to(device) for k in ("rows", "pred", "target"))
    if not len(rows):
        return torch.zeros(0)
    backbone, head = (None, None) if own_head else split_head(model)
    if backbone is not None:
        prefix = int(batch.get("prefix", 0))
        run = with_prefix_cache(backbone, inputs, prefix)
        run, prefix = (run, prefix) if run is not None else (inputs, 0)
        hidden = backbone(**run).last_hidden_state[rows, cols - prefix]  # (N, H): the scored positions
        return _head_logprobs(head, hidden, targets).cpu()
    return _own_head_logprobs(model, inputs, rows, cols, targets).cpu()


def head_matches_model(model: Any, ids: list[int]) -> bool:
    """A second guard, on eval's first real row (split_head already ran lm_head.py's): the head applied at
    the scored positions must give the model's own `forward(labels=...)` loss (training/loss.py:model_loss).
    A mismatch is an output transform the split does not know: eval then lets the model's forward compute
    its head, said in one line.
    """
    from lmforge.training.loss import GUARD_RTOL, model_loss

    ids = ids[:GUARD_TOKENS]
    if len(ids) < 2 or split_head(model)[0] is None:
        return True  # nothing to compare, or the model's own head already
    batch = collate_units([example_unit({"input_ids": ids, "labels": ids})], 0)
    ours = -float(score_batch(model, batch).mean())
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
    reference = model_loss(model, {**inputs, "labels": batch["input_ids"]})
    if abs(ours - reference) <= GUARD_RTOL * max(abs(reference), 1e-6):
        return True
    print(
        f"lmforge: the label-position loss ({ours:.5f}) differs from the model's own loss ({reference:.5f}): "
        "eval uses the model's own head",
        file=sys.stderr,
    )
    return False


def _head_logprobs(head: Any, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) from the head applied HEAD_CHUNK logits at a time: (N, H) -> (N,)."""
    vocab = head.weight.shape[0]
    step = max(1, HEAD_CHUNK // vocab)
    out = [
        -F.cross_entropy(head(hidden[i : i + step]).float(), targets[i : i + step], reduction="none")
        for i in range(0, len(targets), step)
    ]
    return torch.cat(out)


def _own_head_logprobs(
    model: Any, inputs: dict, rows: torch.Tensor, cols: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """The model's forward computes its head (and its output transform) at the scored positions only.

    Rows go in groups of about HEAD_CHUNK logits; a model whose forward has no `logits_to_keep` (older
    transformers) gets one row at a time, its full (1, T, V) logits indexed at once.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    vocab = base.config.get_text_config().vocab_size
    keeps = "logits_to_keep" in inspect.signature(base.forward).parameters
    out = torch.empty(len(rows), device=rows.device)
    per_row = torch.bincount(rows, minlength=inputs["input_ids"].shape[0])
    start = 0
    while start < len(per_row):
        stop = start + 1
        while keeps and stop < len(per_row) and per_row[start : stop + 1].sum() * vocab <= HEAD_CHUNK:
            stop += 1
        sel = (rows >= start) & (rows < stop)
        part = {k: v[start:stop] if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        r, c = rows[sel] - start, cols[sel]
        if keeps:
            keep = torch.zeros(part["input_ids"].shape, dtype=torch.bool, device=rows.device)
            keep[r, c] = True
            logits = model(**part, logits_to_keep=keep).logits  # (U, V), U = kept positions, row-major
            at = (keep.flatten().cumsum(0) - 1).view(keep.shape)[r, c]
        else:
            logits, at = model(**part).logits[r, c], slice(None)
        out[sel] = -F.cross_entropy(logits[at].float(), targets[sel], reduction="none")
        start = stop
    return out


def score_units(
    model: Any, units: list[Unit], pad_id: int, batch_tokens: int, max_rows: int | None, desc: str
) -> list[tuple[list[float], list[int]]]:
    """Per unit, in input order: (summed log-prob per group, tokens per group); sorted, budgeted batches.

    >>> score_units(model, [example_unit(ex) for ex in examples], pad_id, 4096, None, "loss")  # doctest: +SKIP
    [([-12.5], [7]), ...]
    """
    results: list[Any] = [None] * len(units)
    own_head = bool(units) and not head_matches_model(model, units[0]["input_ids"])
    batches = budget_batches([len(u["input_ids"]) for u in units], batch_tokens, max_rows)
    with progress(len(units), desc) as bar:
        for idx in batches:
            part = [units[i] for i in idx]
            scored = sum_by_group(part, score_batch(model, collate_units(part, pad_id), own_head))
            for i, r in zip(idx, scored, strict=True):
                results[i] = r
            bar.update(len(idx))
    return results


def sum_by_group(units: list[Unit], logp: torch.Tensor) -> list[tuple[list[float], list[int]]]:
    """Per unit: (summed log-prob per group, scored tokens per group), from score_batch's (N,) output."""
    out, at = [], 0
    for u in units:
        n_groups = max(u["group"], default=-1) + 1
        g = torch.tensor(u["group"], dtype=torch.long)
        part = logp[at : at + len(g)]
        at += len(g)
        sums = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, g, part.double())
        counts = torch.bincount(g, minlength=n_groups)
        out.append((sums.tolist(), counts.tolist()))
    return out


def classifier_logits(model: Any, examples: list[dict[str, Any]], pad_id: int) -> torch.Tensor:
    """(B, C) fp32 logits of a sequence-classification head for a batch of {"input_ids"} examples."""
    device = next(model.parameters()).device
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
        mask[i, : len(e["input_ids"])] = 1
    pos = torch.arange(width).repeat(len(examples), 1)
    inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "position_ids": pos.to(device)}
    rows = [e["input_ids"] for e in examples]
    prefix = shared_prefix(rows, prefix_limit([len(r) for r in rows], [len(r) - 1 for r in rows]))
    backbone = backbone_of(model)
    run = with_prefix_cache(backbone, inputs, prefix) if backbone is not None else None
    return model(**(run or {**inputs, "use_cache": False})).logits.float().cpu()
