"""Optimizer groups, schedule stepping, early stopping, classifier head, DoRA."""

from __future__ import annotations

import json
import math

import torch
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.models import load_model
from lmforge.training.optim import param_groups
from lmforge.training.run import train


def _rows(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_no_weight_decay_on_biases_and_norms(tiny_model):
    model = load_model(tiny_model)
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(
        "norm" not in names[id(p)] and "ln_" not in names[id(p)] and "bias" not in names[id(p)]
        for p in decay["params"]
    )
    assert any("norm" in names[id(p)] or "ln_" in names[id(p)] for p in no_decay["params"])


def test_schedule_steps_once_per_optimizer_step(tiny_llama, tmp_path):
    """Warmup 2 then cosine over 6 steps, with accumulation 3: the lr depends on optimizer steps only."""
    cfg = make_cfg(
        tiny_llama,
        str(tmp_path / "run"),
        "train.max_steps=6",
        "train.grad_accum=3",
        "train.batch_size=2",
        "train.warmup_steps=2",
        "train.lr=0.01",
        "train.scheduler=cosine",
    )
    train(cfg, data=(fake_examples(36, vocab=250), []), collate=stand_in_collate)
    lrs = [r["lr"] for r in _rows(tmp_path / "run")]

    def expected(step: int) -> float:  # the lr in effect after `step` optimizer steps
        if step < 2:
            return 0.01 * step / 2
        return 0.01 * 0.5 * (1 + math.cos(math.pi * (step - 2) / 4))

    assert len(lrs) == 6
    assert all(abs(a - expected(s)) < 1e-12 for a, s in zip(lrs, range(1, 7), strict=True)), lrs


def test_early_stopping_keeps_best(tiny_llama, tmp_path):
    """Val tokens the training data never uses: val loss rises from the first step, patience 2 stops it."""
    train_ex = fake_examples(16, vocab=100, seed=1)
    val_ex = [
        {
            "input_ids": [t + 150 for t in e["input_ids"]],
            "labels": [t if t < 0 else t + 150 for t in e["labels"]],
        }
        for e in fake_examples(8, vocab=100, seed=2)
    ]
    cfg = make_cfg(
        tiny_llama,
        str(tmp_path / "run"),
        "model.lora=null",
        "train.max_steps=20",
        "train.lr=1e-2",
        "train.eval_every=1",
        "train.early_stopping.patience=2",
        "train.scheduler=constant",
    )
    metrics = train(cfg, data=(train_ex, val_ex), collate=stand_in_collate)
    assert metrics["stopped_early"] and metrics["steps"] == 3
    assert metrics["best_step"] == 1
    best = json.loads((tmp_path / "run" / "best" / "lmforge.json").read_text())
    assert best["metrics"]["step"] == 1


def test_classifier_head_learns(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    examples = [
        {"input_ids": e["input_ids"], "label": int(e["input_ids"][0] < 125)}
        for e in fake_examples(32, vocab=250, seed=3)
    ]
    cfg = make_cfg(
        tiny_model,
        str(tmp_path / "run"),
        "task.type=classification",
        "task.head=classifier",
        "task.labels=[neg, pos]",
        "train.max_steps=24",
        "train.lr=5e-3",
        "train.batch_size=8",
        "train.log_every=4",
    )
    metrics = train(cfg, data=(examples, examples[:8]), collate=stand_in_collate)
    losses = [r["loss"] for r in _rows(tmp_path / "run") if r.get("loss") is not None]
    assert losses[-1] < losses[0] and metrics["val_loss"] < math.log(2)
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2)
    model = PeftModel.from_pretrained(base, tmp_path / "run" / "final")
    assert model(torch.tensor([[5, 6, 7]])).logits.shape == (1, 2)
    assert json.loads((tmp_path / "run" / "final" / "lmforge.json").read_text())["labels"] == ["neg", "pos"]


def test_dora_adapter(tiny_model, tmp_path):
    cfg = make_cfg(tiny_model, str(tmp_path / "run"), "model.lora.dora=true", "train.max_steps=2")
    train(cfg, data=(fake_examples(8, vocab=250), []), collate=stand_in_collate)
    adapter_cfg = json.loads((tmp_path / "run" / "final" / "adapter_config.json").read_text())
    assert adapter_cfg["use_dora"] is True
