"""Loss normalised by label tokens over the whole accumulation window: 8 x 1 == 2 x 4."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.models import load_model
from lmforge.training.loop import backward_window
from lmforge.training.loss import LossModule, count_targets, loss_sum
from lmforge.training.run import train


def _grads(model_path: str, examples: list[dict], batch: int) -> tuple[float, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = load_model(model_path)
    for m in model.modules():  # GPT-2 has dropout; random masks would differ between the two layouts
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    acc = Accelerator(mixed_precision="no")
    window = [stand_in_collate(examples[i : i + batch], 0) for i in range(0, len(examples), batch)]
    total, n = backward_window(acc, LossModule(model), window)
    return float(total) / n, {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def test_batch8_equals_batch2_accum4(tiny_model):
    examples = fake_examples(8, vocab=250, seed=1, min_len=4, max_len=30)  # very different label counts
    loss_a, grads_a = _grads(tiny_model, examples, 8)
    loss_b, grads_b = _grads(tiny_model, examples, 2)
    assert abs(loss_a - loss_b) <= 1e-5 * abs(loss_a)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name, g in grads_a.items():
        rel = (g - grads_b[name]).norm() / g.norm().clamp_min(1e-12)
        assert rel <= 1e-5, (name, float(rel))


def test_loss_matches_transformers_own_loss(tiny_model):
    """Head-only-at-labels CE equals the HF model's full-logits mean loss on one batch."""
    model = load_model(tiny_model)
    batch = stand_in_collate(fake_examples(4, vocab=250, seed=2), 0)
    ours = loss_sum(model, batch) / count_targets(batch)
    theirs = model(**batch).loss
    assert torch.allclose(ours, theirs, rtol=1e-5)


def test_packed_rows_do_not_predict_across_examples(tiny_llama):
    """A token starting a new packed example (position id 0) is not a target of the previous one."""
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 8, 9]]),
        "labels": torch.tensor([[5, 6, 7, 8, 9]]),
        "position_ids": torch.tensor([[0, 1, 2, 0, 1]]),
    }
    assert count_targets(batch) == 3  # 6, 7 and 9; not 8


def test_training_runs_agree(tiny_llama, tmp_path):
    """Whole runs: 3 steps of 8 x 1 and of 2 x 4 log the same losses and end with the same weights."""
    data = (fake_examples(24, vocab=250, seed=3), [])
    runs = []
    for name, over in (
        ("a", ["train.batch_size=8", "train.grad_accum=1"]),
        ("b", ["train.batch_size=2", "train.grad_accum=4"]),
    ):
        cfg = make_cfg(tiny_llama, str(tmp_path / name), "model.lora=null", "train.max_steps=3", *over)
        metrics = train(cfg, data=data, collate=stand_in_collate)
        runs.append((metrics, load_model(str(tmp_path / name / "final")).state_dict()))
    (ma, wa), (mb, wb) = runs
    assert abs(ma["train_loss"] - mb["train_loss"]) <= 1e-5 * ma["train_loss"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-6), k
