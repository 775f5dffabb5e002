"""Packing: best-fit-decreasing bins, restarting positions, and attention isolated per example."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM

from lmforge.formatting.packing import collate, pack, packing_efficiency
from lmforge.training.packed_attention import register

DOCS = register()  # lmforge_docs, the CPU attention that keeps packed documents apart without a mask
BACKENDS = ["sdpa", "eager", DOCS]  # CUDA backends (flash_attention_2): tests/training/test_gpu.py


def _ex(n: int, start: int = 10) -> dict:
    ids = list(range(start, start + n))
    return {"input_ids": ids, "labels": [-100] + ids[1:]}


def test_pack_best_fit_decreasing():
    bins = pack([_ex(3), _ex(5), _ex(2), _ex(4), _ex(1)], 6)
    # decreasing: 5 -> bin0 (room 1); 4 -> bin1 (room 2); 3 -> bin2 (room 3); 2 -> bin1 (best fit); 1 -> bin0
    assert [b["seq_lens"] for b in bins] == [[5, 1], [4, 2], [3]]
    assert bins[0]["position_ids"] == [0, 1, 2, 3, 4, 0]
    assert bins[1]["labels"] == _ex(4)["labels"] + _ex(2)["labels"]
    # label 0 of each part is masked: HF's shift would otherwise predict it from the previous example
    full = {"input_ids": [7, 8], "labels": [7, 8]}
    assert pack([full, full], 4)[0]["labels"] == [-100, 8, -100, 8]
    assert packing_efficiency(bins, 6) == pytest.approx(15 / 18)


def test_pack_twice_keeps_parts_and_rejects_too_long():
    once = pack([_ex(2), _ex(2), _ex(3)], 4)
    twice = pack(once, 8)
    assert [b["seq_lens"] for b in once] == [[3], [2, 2]]
    assert [b["seq_lens"] for b in twice] == [[2, 2, 3]]
    assert twice[0]["position_ids"] == [0, 1, 0, 1, 0, 1, 2]
    assert twice[0]["labels"] == once[1]["labels"] + once[0]["labels"]
    with pytest.raises(ValueError, match="does not fit"):
        pack([_ex(5)], 4)
    with pytest.raises(ValueError, match="classifier"):
        pack([{"input_ids": [1], "label": 0}], 4)


def test_collate_pads_by_position_not_by_token_id():
    eos = 2  # pad == eos, as in the built-in model: the trailing EOS must stay a label
    batch = collate([{"input_ids": [5, 2], "labels": [5, 2]}, {"input_ids": [7], "labels": [7]}], pad_id=eos)
    assert batch["input_ids"].tolist() == [[5, 2], [7, 2]]
    assert batch["labels"].tolist() == [[5, 2], [7, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1], [1, 0]]
    assert batch["position_ids"].tolist() == [[0, 1], [0, 1]]


def test_collate_classifier_labels():
    batch = collate([{"input_ids": [5, 6], "label": 1}, {"input_ids": [7], "label": 0}], pad_id=0)
    assert batch["labels"].tolist() == [1, 0]
    assert batch["labels"].shape == (2,)


def test_packed_batch_carries_positions_and_no_dense_mask():
    batch = collate(
        [{"input_ids": [1, 2, 3], "labels": [1, 2, 3], "seq_lens": [2, 1], "position_ids": [0, 1, 0]}], 0
    )
    assert "attention_mask" not in batch  # no (B, 1, T, T) mask: documents come from position_ids
    assert batch["position_ids"].tolist() == [[0, 1, 0]]


def _loss_sum(model, batch) -> tuple[float, int]:
    """Summed next-token loss and number of label tokens (HF shifts labels inside the model)."""
    out = model(**batch, use_cache=False)  # a cache turns off transformers' packed-sequence detection
    n = int((batch["labels"][:, 1:] != -100).sum())
    return float(out.loss) * n, n


@pytest.mark.parametrize("attn", BACKENDS)
def test_packed_loss_equals_one_by_one(tiny_model, attn):
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attn).eval()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    examples = []
    for n in (7, 5, 9, 3, 6, 4):
        ids = torch.randint(3, vocab, (n,), generator=g).tolist()
        labels = [-100, -100] + ids[2:] if n % 2 else list(ids)  # sft-like prompt mask, or causal_lm
        examples.append({"input_ids": ids, "labels": labels})
    with torch.no_grad():
        total, count = 0.0, 0
        for ex in examples:
            s, n = _loss_sum(model, collate([ex], pad_id=0))
            total, count = total + s, count + n
        bins = pack(examples, 16)
        assert len(bins) < len(examples)
        packed_total, packed_count = 0.0, 0
        batch = collate(bins, pad_id=0)  # bins of unequal length: padding inside the batch too
        out = model(**batch, use_cache=False)
        # HF's loss is the mean over the label tokens of the whole batch
        packed_count = int((batch["labels"][:, 1:] != -100).sum())
        packed_total = float(out.loss) * packed_count
    assert packed_count == count
    assert packed_total / packed_count == pytest.approx(total / count, abs=1e-4)


def test_without_document_boundaries_examples_would_leak(tiny_llama):
    """Control: the same bins with a plain padding mask give a different loss, so the test above can fail."""
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, attn_implementation="sdpa").eval()
    examples = [
        {"input_ids": list(range(10 + k, 18 + k)), "labels": list(range(10 + k, 18 + k))} for k in range(3)
    ]
    batch = collate(pack(examples, 24), pad_id=0)
    leaky = {**batch, "attention_mask": torch.ones_like(batch["input_ids"])}
    with torch.no_grad():
        assert (
            abs(float(model(**batch, use_cache=False).loss) - float(model(**leaky, use_cache=False).loss))
            > 1e-4
        )


@pytest.mark.parametrize("attn", BACKENDS)
def test_packed_rows_under_bf16_autocast(tiny_gpt2, attn):
    """Documents stay apart when the trainer runs the model under bf16 autocast."""
    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2, attn_implementation=attn).eval()
    examples = [{"input_ids": list(range(5, 5 + n)), "labels": list(range(5, 5 + n))} for n in (6, 4)]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        packed = float(model(**collate(pack(examples, 10), pad_id=0), use_cache=False).loss)
        single = [float(model(**collate([e], pad_id=0), use_cache=False).loss) for e in examples]
    expected = (single[0] * 5 + single[1] * 3) / 8
    assert packed == pytest.approx(expected, abs=3e-2)  # bf16 rounding, not leakage


@pytest.mark.slow
def test_packed_loss_on_the_builtin_model(builtin_model):
    """The same equivalence on the real pretrained SmolLM2 (grouped-query attention, real weights)."""
    from lmforge.config import TaskConfig
    from lmforge.tasks import get_task

    model, tok = builtin_model
    task = get_task(TaskConfig(type="sft"))
    records = [
        {"prompt": f"What is {a} plus {b}?", "response": f"{a + b}."} for a, b in ((2, 3), (10, 7), (1, 1))
    ]
    examples = [task.encode(r, tok, 512) for r in records]
    with torch.no_grad():
        one = [_loss_sum(model, collate([e], tok.pad_token_id)) for e in examples]
        batch = collate(pack(examples, 256), tok.pad_token_id)
        packed_count = int((batch["labels"][:, 1:] != -100).sum())
        packed = float(model(**batch, use_cache=False).loss)
    assert packed_count == sum(n for _, n in one)
    assert packed == pytest.approx(sum(s for s, _ in one) / packed_count, abs=1e-4)


@given(st.lists(st.integers(1, 16), min_size=1, max_size=40), st.integers(16, 40))
@settings(max_examples=60, deadline=None)
def test_pack_property_every_token_once_and_bins_fit(lengths, max_len):
    examples = [_ex(n, start=100 * i) for i, n in enumerate(lengths)]
    bins = pack(examples, max_len)
    assert all(len(b["input_ids"]) <= max_len for b in bins)
    assert sorted(t for b in bins for t in b["input_ids"]) == sorted(
        t for e in examples for t in e["input_ids"]
    )
    assert sorted(n for b in bins for n in b["seq_lens"]) == sorted(lengths)
    assert len(bins) <= 2 * sum(lengths) // max_len + 1  # BFD never needs more than twice the optimum
