"""Eval never builds full-vocabulary logits for a batch (transformers #12878, #26474).

Every tensor that any torch op produces while a batch is scored is seen through a TorchDispatchMode;
the largest must stay far below the (B, T, V) fp32 logits that `model(**batch).logits` would be. The same
probe on HF's plain forward sees them, so the test can fail.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lmforge.evaluation.batching import inference
from lmforge.evaluation.scoring import collate_units, example_unit, score_batch

B, T, V = 16, 128, 50_000  # full fp32 logits: 16 x 128 x 50,000 x 4 bytes = 410 MB


class LargestTensor(TorchDispatchMode):
    """Remembers the byte size of the largest tensor any op returns."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.bytes = max(self.bytes, t.numel() * t.element_size())
        return out


def tiny_large_vocab_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=V,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(cfg).eval()


def test_scoring_a_batch_never_allocates_full_logits():
    model = tiny_large_vocab_model()
    ids = torch.randint(3, V, (B, T))
    units = [example_unit({"input_ids": row.tolist(), "labels": row.tolist()}) for row in ids]  # all scored
    batch = collate_units(units, pad_id=0)
    full = B * T * V * 4
    with inference("cpu"), LargestTensor() as probe:
        logp = score_batch(model, batch)
    assert logp.shape == (B * (T - 1),) and torch.isfinite(logp).all()
    assert probe.bytes < full / 16, (
        f"largest tensor {probe.bytes / 2**20:.0f} MB vs logits {full / 2**20:.0f} MB"
    )

    with inference("cpu"), LargestTensor() as plain:  # the probe sees HF's full logits
        model(input_ids=ids)
    assert plain.bytes >= full
