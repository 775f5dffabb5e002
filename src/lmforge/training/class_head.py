"""Where a classifier head starts (`task.head_init`): the LM head's rows of the label words, or at random.

transformers' AutoModelForSequenceClassification adds `score`, Linear(hidden, C, bias=False) drawn from
N(0, initializer_range): a head that knows nothing, learnt from scratch at the adapters' learning rate. On
real tweets (3 classes, LoRA, 125 x 16) that reached accuracy 0.552-0.593 where the same model writing the
label word (`task.head: lm`) reached 0.659 (issue #37). The head reads the last prompt token, right after
the assistant header: the very position where the LM predicts its answer's first token. So `label_words`
copies the LM head's row of each label's first token into `score`: at step 0 the classifier's logits are
the LM's logits of those tokens (before any output transform such as Gemma's soft-cap), its zero-shot
answer restricted to the label set, and training starts from what the pretrained model already knows
(the verbalizer initialisation of prompt-based fine-tuning; measured in docs/train.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch


def label_token_ids(tokenizer: Any, labels: list[str]) -> list[int] | None:
    """The first token of each label as the assistant's answer starts; None if two labels share one.

    The answer follows the assistant header's newline, so a label is encoded alone (no leading space).
    >>> label_token_ids(tok, ["negative", "neutral", "positive"])  # doctest: +SKIP
    [14384, 4604, 2973]
    """
    firsts = []
    for label in labels:
        ids = tokenizer(str(label), add_special_tokens=False)["input_ids"]
        if not ids:
            return None
        firsts.append(ids[0])
    return firsts if len(set(firsts)) == len(firsts) else None


def output_rows(model: Any, folder: str | None) -> torch.Tensor | None:
    """(V, H) weight of the LM head the classifier replaced: the input embedding when tied, else
    `lm_head.weight` read from the model folder's safetensors (AutoModelForSequenceClassification drops it).
    """
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if getattr(config, "tie_word_embeddings", False):
        return model.get_input_embeddings().weight.detach()
    if folder is None or not Path(folder).is_dir():
        return None
    from safetensors import safe_open

    for file in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            key = next((k for k in f.keys() if k.endswith("lm_head.weight")), None)
            if key is not None:
                return f.get_tensor(key)
    return None


def init_from_label_words(model: Any, tokenizer: Any, labels: list[str], folder: str | None = None) -> bool:
    """Copy the LM head's rows of the labels' first tokens into the classifier head; True if it did.

    Leaves the random head (and says why on stderr) when labels share a first token, the LM head is not
    found, or the head is not a plain (C, H) linear layer (a quantized or custom one).
    """
    head = getattr(model, "score", None)
    weight = getattr(head, "weight", None)
    ids = label_token_ids(tokenizer, labels)
    rows = output_rows(model, folder) if ids is not None else None
    if ids is None:
        why = "two labels start with the same token"
    elif rows is None:
        why = "the LM head's weights were not found"
    elif weight is None or not weight.is_floating_point() or weight.shape != (len(labels), rows.shape[1]):
        why = "the model has no plain (labels, hidden) `score` layer"
    else:
        why = None
    if why is not None:
        print(f"lmforge: task.head_init label_words: {why}; the head starts at random", file=sys.stderr)
        return False
    with torch.no_grad():
        weight.copy_(rows[ids].to(weight.dtype))  # (C, H)
        if getattr(head, "bias", None) is not None:
            head.bias.zero_()
    return True
