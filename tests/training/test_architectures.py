"""Every common decoder architecture, tiny and random: the trainer's loss equals the model's own, packing keeps
documents apart, LoRA all-linear trains, merging equals peft's unmerged model, and it chats."""

from __future__ import annotations

import random

import pytest
import torch
from tiny_models import ARCHITECTURES, build_tiny

from lmforge.config import LoraConfig
from lmforge.formatting.packing import collate, pack
from lmforge.inference.generation import generate
from lmforge.models import load_model, load_tokenizer
from lmforge.training.loss import LossModule, count_targets, loss_sum, model_loss, split_head
from lmforge.training.setup import apply_lora, choose_attention

# output transforms the head-at-labels path must not miss: only the first-batch guard can catch these
TRANSFORMED = {"gemma2", "gemma3_text", "granite", "cohere"}


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def arch(request, tmp_path_factory):
    path = build_tiny(request.param, tmp_path_factory.mktemp(request.param))
    return request.param, str(path)


def _examples(vocab: int, seed: int = 0, n: int = 6) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(5, 14)
        ids = [rng.randrange(3, vocab) for _ in range(length)]
        out.append({"input_ids": ids, "labels": [-100] * 2 + ids[2:]})
    return out


def test_trainer_loss_equals_the_models_own_loss(arch):
    name, path = arch
    model = load_model(path).eval()
    batch = collate(_examples(model.config.vocab_size), 0)
    module = LossModule(model)
    with torch.no_grad():
        ours = float(module(batch)) / count_targets(batch)
    assert ours == pytest.approx(model_loss(model, batch), rel=1e-5)
    if name in TRANSFORMED and split_head(model)[0] is not None:
        assert module.model_logits  # the guard saw the transform and switched to the model's logits


def test_packing_keeps_documents_apart(arch):
    _, path = arch
    model = load_model(path).eval()
    choose_attention(model)
    examples = _examples(model.config.vocab_size, seed=1)
    with torch.no_grad():
        # the reference: the model's own loss, one example at a time (its own output transforms included)
        one = sum(model_loss(model, collate([e], 0)) * count_targets(collate([e], 0)) for e in examples)
        n_one = sum(count_targets(collate([e], 0)) for e in examples)
        batch = collate(pack(examples, 32), 0)
        assert "attention_mask" not in batch
        packed = float(LossModule(model)(batch)) / count_targets(batch)
    assert count_targets(batch) == n_one
    assert packed == pytest.approx(one / n_one, abs=1e-4)


def test_lora_all_linear_trains_and_merges_like_peft(arch):
    _, path = arch
    model = apply_lora(load_model(path), LoraConfig(r=4, alpha=8, dropout=0.0))
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and sum(p.numel() for p in trainable) < sum(p.numel() for p in model.parameters())
    batch = collate(_examples(model.config.vocab_size, seed=2), 0)
    loss = loss_sum(model, batch) / count_targets(batch)
    loss.backward()
    assert all(p.grad is not None for p in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(std=0.02)  # a trained-looking adapter, so merging changes the weights
        model.eval()
        unmerged = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        merged = model.merge_and_unload()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    torch.testing.assert_close(merged.logits, unmerged, rtol=1e-5, atol=1e-5)


def test_chats_with_its_template(arch):
    _, path = arch
    model, tokenizer = load_model(path).eval(), load_tokenizer(path)
    out = generate(model, tokenizer, [[{"role": "user", "content": "hello there"}]], max_new_tokens=4)
    assert len(out) == 1 and 1 <= out[0].tokens <= 4
    assert "<|im_start|>" in tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
