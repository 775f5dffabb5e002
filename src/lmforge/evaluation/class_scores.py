"""Classification scores, one forward per record: label probabilities and the loss together.

- `task.head: classifier`: one batch of prompts through the sequence-classification head gives (B, C)
  logits: their softmax are the probabilities, their cross-entropy with the label the loss.
- `task.head: lm`: every label's log-likelihood as the answer. The C conversations "prompt + label c"
  share the prompt; as C rows the prompt would run C times. Here the prompt is the trunk of one row and
  each label's answer tokens a branch after it: a branch sees the trunk and itself (scoring.tree_mask),
  its positions continue from the trunk's end, so each branch's log-probabilities are those of its own
  row (tested against one row per label). The branch of the record's true label gives the loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lmforge.evaluation.batching import budget_batches, progress
from lmforge.evaluation.scoring import IGNORE, Unit, classifier_logits, score_units
from lmforge.tasks import Task


def label_units(task: Task, tokenizer: Any, records: list[dict], max_seq_len: int) -> list[Unit]:
    """One unit per record; groups 0..C-1 are the label set, group C the record's own label when it is
    not in the set (scored for the loss only)."""
    labels = task.label_set()
    # keep the end of a long prompt: truncating on the right would cut the label being scored
    scoring = type(task)(task.cfg.model_copy(update={"truncate": "left"}))
    scoring.labels = labels
    branches = [labels + _extra(r, labels) for r in records]
    rows = [{**r, "label": label} for r, names in zip(records, branches, strict=True) for label in names]
    examples, _ = scoring.encode_batch(rows, tokenizer, max_seq_len)
    units, at = [], 0
    for names in branches:
        units.append(tree_unit(examples[at : at + len(names)]))
        at += len(names)
    return units


def tree_unit(examples: list[dict[str, Any]]) -> Unit:
    """Examples that share a prefix -> one row: the common prefix, then each example's rest as a branch.

    >>> u = tree_unit([{"input_ids": [1, 2, 3], "labels": [-100, -100, 3]},
    ...                {"input_ids": [1, 2, 4, 5], "labels": [-100, -100, 4, 5]}])
    >>> u["input_ids"], u["position_ids"], u["segments"], u["pred"], u["target"], u["group"]
    ([1, 2, 3, 4, 5], [0, 1, 2, 2, 3], [0, 0, 1, 2, 2], [1, 1, 3], [3, 4, 5], [0, 1, 1])
    """
    trunk = _common_prefix([e["input_ids"] for e in examples])
    ids, positions, segments = list(examples[0]["input_ids"][:trunk]), list(range(trunk)), [0] * trunk
    pred: list[int] = []
    target: list[int] = []
    group: list[int] = []
    for g, e in enumerate(examples):
        x, y, offset = e["input_ids"], e["labels"], len(ids)
        ids += x[trunk:]
        positions += range(trunk, len(x))
        segments += [g + 1] * (len(x) - trunk)
        for t in range(len(x) - 1):
            if y[t + 1] != IGNORE:
                pred.append(t if t < trunk else offset + t - trunk)
                target.append(y[t + 1])
                group.append(g)
    return {
        "input_ids": ids,
        "position_ids": positions,
        "segments": segments,
        "pred": pred,
        "target": target,
        "group": group,
    }


def label_scores(
    task: Task,
    model: Any,
    tokenizer: Any,
    records: list[dict],
    max_seq_len: int,
    pad_id: int,
    batch_tokens: int,
    max_rows: int | None = None,
) -> tuple[torch.Tensor, float, int]:
    """((N, C) label probabilities, summed CE of the true labels' answers, their token count)."""
    labels = task.label_set()
    units = label_units(task, tokenizer, records, max_seq_len)
    scored = score_units(model, units, pad_id, batch_tokens, max_rows, "score labels")
    logp = torch.tensor([sums[: len(labels)] for sums, _ in scored])  # (N, C)
    loss_sum, count = 0.0, 0
    for r, (sums, counts) in zip(records, scored, strict=True):
        if r.get("label") is None:  # predict: no answer to score
            continue
        g = labels.index(str(r["label"])) if str(r["label"]) in labels else len(labels)
        loss_sum, count = loss_sum - sums[g], count + counts[g]
    return logp.softmax(dim=1), loss_sum, count


def classifier_scores(
    task: Task,
    model: Any,
    tokenizer: Any,
    records: list[dict],
    max_seq_len: int,
    pad_id: int,
    batch_tokens: int,
    max_rows: int | None = None,
) -> tuple[torch.Tensor, float, int]:
    """((N, C) softmax of the classifier head, summed CE with the labels, N) from one forward per batch.

    The prompts are encoded as training encoded them (`task.truncate`), except that `drop` becomes
    `left` here: every record needs a prediction.
    """
    if task.cfg.truncate == "drop":
        task = type(task)(task.cfg.model_copy(update={"truncate": "left"}))
    with_label = [r if r.get("label") is not None else {**r, "label": task.label_set()[0]} for r in records]
    examples, _ = task.encode_batch(with_label, tokenizer, max_seq_len)
    logits = torch.empty(len(records), len(task.label_set()))
    with progress(len(records), "score labels") as bar:
        for idx in budget_batches([len(e["input_ids"]) for e in examples], batch_tokens, max_rows):
            logits[idx] = classifier_logits(model, [examples[i] for i in idx], pad_id)
            bar.update(len(idx))
    known = [i for i, r in enumerate(records) if r.get("label") is not None]
    targets = torch.tensor([examples[i]["label"] for i in known], dtype=torch.long)
    loss_sum = float(F.cross_entropy(logits[known], targets, reduction="sum")) if known else 0.0
    return logits.softmax(dim=1), loss_sum, len(known)


def _extra(record: dict, labels: list[str]) -> list[str]:
    label = record.get("label")
    return [] if label is None or str(label) in labels else [str(label)]


def _common_prefix(rows: list[list[int]]) -> int:
    """Length of the longest common prefix: [[1, 2, 3], [1, 2, 4]] -> 2."""
    n = min(len(r) for r in rows)
    for i in range(n):
        if any(r[i] != rows[0][i] for r in rows[1:]):
            return i
    return n
