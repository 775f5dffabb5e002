"""Packing (best-fit-decreasing bins) and collation into model inputs.

A packed bin holds several examples back to back; `position_ids` restart at 0 for each one, and that is
all a packed batch carries: no attention mask. transformers reads the document boundaries from the position
ids (when no mask and no cache are given) and keeps documents apart: FlashAttention's varlen kernel on CUDA
(cumulative sequence lengths), its own document mask for SDPA/eager, or lmforge's `lmforge_docs` attention
(training/packed_attention.py). So no token attends across examples (trl PR #3526 is what happens otherwise)
and no (B, 1, T, T) mask is built here (tested: a packed batch's loss equals the examples' one by one, for
every attention backend on the machine). A bin's padding restarts its positions at 0: it is a document of
its own, and its labels are -100. Unpacked rows keep a 2D attention mask. Padding is masked by position,
never by token id: the built-in model's pad token IS its EOS, and EOS must stay in the labels.
"""

from __future__ import annotations

import bisect
from typing import Any

import torch

Example = dict[str, Any]


def pack(examples: list[Example], max_seq_len: int) -> list[Example]:
    """Best-fit-decreasing: longest first, each into the fullest bin that still has room.

    Each bin: input_ids, labels, position_ids (restarting per example), seq_lens. Already packed bins
    can be packed again (their parts stay intact), so packing twice is harmless.

    >>> [b["seq_lens"] for b in pack([{"input_ids": [1] * n, "labels": [1] * n} for n in (3, 2, 2)], 4)]
    [[3], [2, 2]]
    """
    bins: list[Example] = []
    free: list[tuple[int, int]] = []  # (room left, bin index), sorted: bisect finds the best fit
    for ex in sorted(examples, key=lambda e: len(e["input_ids"]), reverse=True):
        n = len(ex["input_ids"])
        if "labels" not in ex:
            raise ValueError("classifier examples (one label per sequence) cannot be packed")
        if n > max_seq_len:
            raise ValueError(
                f"an example of {n} tokens does not fit max_seq_len={max_seq_len}; truncate first"
            )
        at = bisect.bisect_left(free, (n, -1))
        if at == len(free):
            bins.append({"input_ids": [], "labels": [], "position_ids": [], "seq_lens": []})
            room, index = max_seq_len, len(bins) - 1
        else:
            room, index = free.pop(at)
        _append(bins[index], ex)
        if room - n > 0:
            bisect.insort(free, (room - n, index))
    return bins


def _append(bin_: Example, ex: Example) -> None:
    n = len(ex["input_ids"])
    bin_["input_ids"] += ex["input_ids"]
    # HF shifts labels inside the model: label 0 of an example is never predicted when it stands alone,
    # but in a bin it would be predicted from the previous example's last token. Masking it keeps the
    # packed loss exactly the loss of the examples one by one.
    bin_["labels"] += [-100, *ex["labels"][1:]] if "seq_lens" not in ex else ex["labels"]
    bin_["position_ids"] += ex.get("position_ids") or list(range(n))
    bin_["seq_lens"] += ex.get("seq_lens") or [n]


def packing_efficiency(bins: list[Example], max_seq_len: int) -> float:
    """Share of real tokens in the bins' max_seq_len slots: [[3], [2, 2]] at 4 -> 7 / 8 = 0.875."""
    return sum(len(b["input_ids"]) for b in bins) / max(1, len(bins) * max_seq_len)


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch into tensors.

    Returns input_ids (B, T), labels (B, T) with -100 on padding (or (B,) class ids for classifier
    examples), position_ids (B, T), and for unpacked batches attention_mask (B, T) of 1/0. A batch with a
    packed bin has no attention_mask: its position_ids say where each document starts.

    >>> collate([{"input_ids": [5, 6], "labels": [5, 6]}, {"input_ids": [7], "labels": [7]}], 0)["labels"]
    tensor([[   5,    6],
            [   7, -100]])
    """
    width = max(len(e["input_ids"]) for e in examples)
    batch = len(examples)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((batch, width), dtype=torch.long)
    mask2d = torch.zeros((batch, width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        input_ids[i, :n] = torch.tensor(e["input_ids"], dtype=torch.long)
        # unpacked rows count on through the padding; a bin's padding restarts at 0 like a new part
        positions = (
            e["position_ids"] + list(range(width - n)) if e.get("position_ids") else list(range(width))
        )
        position_ids[i] = torch.tensor(positions, dtype=torch.long)
        mask2d[i, :n] = 1
    out = {"input_ids": input_ids, "position_ids": position_ids}
    if "labels" in examples[0]:
        labels = torch.full((batch, width), -100, dtype=torch.long)
        for i, e in enumerate(examples):
            labels[i, : len(e["labels"])] = torch.tensor(e["labels"], dtype=torch.long)
        out["labels"] = labels
    else:
        out["labels"] = torch.tensor([e["label"] for e in examples], dtype=torch.long)
    if not any("seq_lens" in e for e in examples):
        out["attention_mask"] = mask2d
    return out
