"""The fast eval settings on the built-in model against the plain computation (slow: the real model)."""

from __future__ import annotations

import copy

import pytest
import torch

from evaluation.test_scoring import hf_record_losses, label_reference
from lmforge.config import load_config
from lmforge.evaluation.batching import inference
from lmforge.evaluation.class_scores import label_scores
from lmforge.evaluation.loading import ready_for_eval
from lmforge.evaluation.scoring import example_unit, score_units
from lmforge.formatting.token_cache import make_task

pytestmark = pytest.mark.slow
TWEETS = [
    ("Honestly loving the new phone, works perfectly and the battery lasts all day #happy", "positive"),
    ("Really fed up with the delivery app, it keeps crashing every hour @brand", "negative"),
    ("Just got the smart watch, it came in a plain box. Will see how it goes this week", "neutral"),
    ("So disappointed by their support team, waited two hours and nobody answered smh", "negative"),
    ("Big thanks for the update, fast, quiet and easy to set up 🙂", "positive"),
    ("Thinking about this laptop, the manual is forty pages long fyi", "neutral"),
]


def test_merged_bf16_eval_matches_plain_fp32_on_the_builtin_model(builtin_model):
    """Label probabilities within 0.05 and losses within 1.5% of the unmerged fp32 model through HF (measured:
    0.0196, and 0.0454 on the 2026-12-08 fresh install, on the labels; 0.8% on their loss, 0.5% on the
    SFT-style loss); the same predicted labels."""
    from peft import LoraConfig, get_peft_model

    base, tok = builtin_model
    cfg = load_config(
        None,
        ["task.type=classification", "task.labels=[negative, neutral, positive]", "train.max_seq_len=128"],
    )
    task = make_task(cfg)
    records = [{"text": t, "label": label} for t, label in TWEETS]
    torch.manual_seed(0)
    model = get_peft_model(copy.deepcopy(base), LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.01)  # a fine-tune that moves the outputs
    model.eval()
    ref_probs, ref_loss, ref_n = label_reference(model, task, tok, records, 128)
    sft = [
        {"input_ids": ids, "labels": [-100] * 5 + ids[5:]} for ids in tok([t for t, _ in TWEETS])["input_ids"]
    ]
    assert all(len(e["input_ids"]) > 10 for e in sft)
    ref_sft = hf_record_losses(model, sft)
    fast = ready_for_eval(model, torch.bfloat16)
    with inference("cpu", torch.bfloat16):
        probs, loss, n = label_scores(task, fast, tok, records, 128, tok.eos_token_id, 4096)
        scored = score_units(fast, [example_unit(e) for e in sft], tok.eos_token_id, 4096, None, "t")
    assert n == ref_n and loss / n == pytest.approx(ref_loss / ref_n, rel=1.5e-2)
    assert (probs - ref_probs).abs().max() < 5e-2
    assert (probs.argmax(dim=1) == ref_probs.argmax(dim=1)).all()
    assert [-s[0] / c[0] for s, c in scored] == pytest.approx([s / c for s, c in ref_sft], rel=1.5e-2)
