"""Every common decoder architecture, tiny and random: the trainer's loss equals the model's own, every
objective's head path (SFT loss, preference log-probs, DP per-record losses, eval) equals the model's own
logits, packing keeps documents apart, LoRA all-linear trains, merging equals peft's unmerged model, and it
chats."""

from __future__ import annotations

import random

import pytest
import torch

from lmforge.config import LoraConfig
from lmforge.evaluation.scoring import collate_units, example_unit, score_batch
from lmforge.formatting.packing import collate, pack
from lmforge.inference.generation import generate
from lmforge.models import load_model, load_tokenizer
from lmforge.training import lm_head
from lmforge.training.head_ce import PLAIN
from lmforge.training.loss import LossModule, count_targets, loss_sum, model_loss, split_head
from lmforge.training.preference_loss import collate_pairs, sequence_logps
from lmforge.training.privacy_loop import record_losses
from lmforge.training.setup import apply_lora, choose_attention
from tiny_models import ARCHITECTURES, build_tiny

# output transforms the head path applies after the head (lm_head.py): softcap, logits_scaling, logit_scale
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
    assert split_head(model)[0] is not None  # the head path knows every architecture's transform
    if name in TRANSFORMED:
        assert lm_head.head_transform(model.config) != PLAIN


def _pairs(examples: list[dict]) -> list[dict]:
    """Preference pairs from LM examples: the first 2 tokens are the prompt, the other example the rejected."""
    return [
        {"input_ids": e["input_ids"], "prompt_len": 2, "rejected_ids": o["input_ids"][2:]}
        for e, o in zip(examples, examples[1:] + examples[:1], strict=True)
    ]


def _logit_logps(model, batch: dict) -> torch.Tensor:
    """(R, T-1) log-probs of each next token from the model's own full logits, 0 where not labelled."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    logps = torch.log_softmax(logits.float(), -1).gather(2, labels.clamp(min=0)[..., None])[..., 0]
    return logps * (labels != -100)


def _objectives_equal_the_models_logits(model, examples: list[dict]) -> None:
    """Preference log-probs (and LoRA gradients), DP per-record losses and eval scores through the head
    path equal those computed from `model(...).logits`."""
    pairs = collate_pairs(_pairs(examples), 0)
    ours = sequence_logps(model, pairs)[0]
    ours.sum().backward()
    ours_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    ref = _logit_logps(model, pairs).sum(1)
    ref.sum().backward()
    torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-5, atol=1e-4)
    assert ours_grads
    for n, g in ours_grads.items():
        torch.testing.assert_close(g, model.get_parameter(n).grad, rtol=1e-4, atol=1e-5, msg=n)
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        batch = collate(examples, 0)
        sums, _ = record_losses(model, batch)
        torch.testing.assert_close(sums, -_logit_logps(model, batch).sum(1), rtol=1e-5, atol=1e-4)
        units = [example_unit(e) for e in examples]
        scored = score_batch(model, collate_units(units, 0))
        ref_tokens = _logit_logps(model, batch)[batch["labels"][:, 1:] != -100]
        torch.testing.assert_close(scored, ref_tokens, rtol=1e-5, atol=1e-4)


def test_every_objective_applies_the_head_as_the_model_does(arch):
    """Granite's logits_scaling, Cohere's logit_scale, Gemma's soft-cap: DPO/KTO log-probs, DP-SGD's
    per-record losses and eval scores all see them (the LoRA head path, dropout off)."""
    _, path = arch
    model = apply_lora(load_model(path), LoraConfig(r=4, alpha=8, dropout=0.0)).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(std=0.05, generator=torch.Generator().manual_seed(0))
    _objectives_equal_the_models_logits(model, _examples(model.config.vocab_size, seed=3))


def test_the_guard_catches_a_transform_the_head_path_does_not_know(arch, monkeypatch, capsys):
    """With its transform table forgotten, the head path differs from the model: the guard sees it once,
    says so, and every objective takes the model's own logits."""
    name, path = arch
    if name not in TRANSFORMED:
        pytest.skip("no output transform to forget")
    monkeypatch.setattr(lm_head, "head_transform", lambda config: PLAIN)
    base = load_model(path)
    with torch.no_grad():  # logits large enough that a soft-cap of 30 changes them (tiny random ones: ~1)
        base.get_output_embeddings().weight.mul_(50)
    model = apply_lora(base, LoraConfig(r=4, alpha=8, dropout=0.0)).eval()
    assert split_head(model) == (None, None)
    assert "differs from the model's own logits" in capsys.readouterr().err
    examples = _examples(model.config.vocab_size, seed=4)
    batch = collate(examples, 0)
    with torch.no_grad():
        assert float(loss_sum(model, batch)) / count_targets(batch) == pytest.approx(
            model_loss(model, batch), rel=1e-5
        )
    _objectives_equal_the_models_logits(model, examples)
    assert "differs" not in capsys.readouterr().err  # once per model


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
        merged = model.merge_and_unload()(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        )
    torch.testing.assert_close(merged.logits, unmerged, rtol=1e-5, atol=1e-5)


def test_chats_with_its_template(arch):
    _, path = arch
    model, tokenizer = load_model(path).eval(), load_tokenizer(path)
    out = generate(model, tokenizer, [[{"role": "user", "content": "hello there"}]], max_new_tokens=4)
    assert len(out) == 1 and 1 <= out[0].tokens <= 4
    assert "<|im_start|>" in tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
