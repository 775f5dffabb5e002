"""GRPO's advantages and loss against TRL's GRPOTrainer on the same completions, rewards and log-probs.

A real `GRPOTrainer` (TRL 1.16) on the tiny Llama samples 2 prompts x 4 completions and scores them with
two reward functions (one returns None for some completions); its `_generate_and_score_completions`
gives the advantages, its `_compute_loss` the loss and, through backward, the LoRA gradients. lmforge's
`group_advantages` and `policy_loss` get the same rewards and the same per-token log-probs (TRL's own
`_get_per_token_logps_and_entropies`), for each loss type, with the KL term and DAPO's asymmetric clip.
"""

from __future__ import annotations

import pytest
import torch

from lmforge.training.grpo_loss import group_advantages, nanstd, policy_loss

trl = pytest.importorskip("trl")

TOL = 1e-5
GENERATIONS = 4


def _rewards_a(prompts, completions, **kw):
    # deterministic from the completion's text; None for every third: "not mine to score"
    return [None if i % 3 == 1 else float(len(c) % 3) for i, c in enumerate(completions)]


def _rewards_b(prompts, completions, **kw):
    return [float(sum(map(ord, c)) % 7) / 7 for c in completions]


@pytest.fixture(scope="module")
def trainer(tiny_llama, tmp_path_factory):
    from datasets import Dataset
    from peft import LoraConfig

    cfg = trl.GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("grpo")),
        per_device_train_batch_size=8,
        num_generations=GENERATIONS,
        max_completion_length=8,
        report_to=[],
        use_cpu=True,
        beta=0.1,
        epsilon=0.2,
        epsilon_high=0.28,
        reward_weights=[1.0, 0.5],
        seed=0,
    )
    ds = Dataset.from_list([{"prompt": f"Count to {i}"} for i in range(8)])
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0)
    tr = trl.GRPOTrainer(
        model=tiny_llama, reward_funcs=[_rewards_a, _rewards_b], args=cfg, train_dataset=ds, peft_config=lora
    )
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # LoRA B off zero: the policy differs from the reference (adapter disabled)
        for name, p in tr.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    tr.model.train()
    tr.current_gradient_accumulation_steps = 1
    return tr


@pytest.fixture(scope="module")
def batch(trainer):
    torch.manual_seed(0)
    inputs = [{"prompt": f"Count to {i}"} for i in range(2) for _ in range(GENERATIONS)]
    return inputs, trainer._generate_and_score_completions(inputs)


def _completions(trainer, out) -> list[str]:
    rows = zip(out["completion_ids"], out["completion_mask"].sum(1), strict=True)
    return [trainer.processing_class.decode(ids[:n], skip_special_tokens=True) for ids, n in rows]


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_advantages_equal_trls(trainer, batch, scale):
    inputs, out = batch
    if scale != "group":
        trainer.scale_rewards = scale
        try:
            out = trainer._generate_and_score_completions(inputs)
        finally:
            trainer.scale_rewards = "group"
    texts = _completions(trainer, out)
    a, b = _rewards_a(None, texts), _rewards_b(None, texts)
    per_func = torch.tensor([[float("nan") if x is None else x, y] for x, y in zip(a, b, strict=True)])
    ours = group_advantages(per_func, torch.tensor([1.0, 0.5]), GENERATIONS, scale)
    torch.testing.assert_close(ours.advantages, out["advantages"], atol=TOL, rtol=TOL)
    assert ours.advantages.abs().sum() > 0


def test_nanstd_equals_trls():
    from trl.trainer.utils import nanstd as trl_nanstd

    x = torch.tensor([[1.0, float("nan"), 3.0, 4.0], [2.0, 2.0, float("nan"), float("nan")]])
    torch.testing.assert_close(nanstd(x, dim=1), trl_nanstd(x, dim=1))
    torch.testing.assert_close(nanstd(x), trl_nanstd(x))


def _lora_grads(model) -> dict[str, torch.Tensor]:
    out = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


@pytest.mark.parametrize(
    ("loss_type", "kl_correction"),
    [("grpo", True), ("bnpo", True), ("dr_grpo", True), ("dapo", True), ("dapo", False)],
)
def test_loss_and_gradients_equal_trls(trainer, batch, loss_type, kl_correction):
    _, out = batch
    out = dict(out)
    trainer.loss_type = loss_type
    trainer.args.use_bias_correction_kl = kl_correction  # TRL's default: True
    model = trainer.model
    model.zero_grad(set_to_none=True)
    # an old policy a little off the current one, so the ratio and its clipping are exercised
    g = torch.Generator().manual_seed(1)
    logps_now, _, _ = trainer._get_per_token_logps_and_entropies(
        model,
        torch.cat([out["prompt_ids"], out["completion_ids"]], 1),
        torch.cat([out["prompt_mask"], out["completion_mask"]], 1),
        out["completion_ids"].size(1),
    )
    out["old_per_token_logps"] = logps_now.detach() + 0.3 * torch.randn(logps_now.shape, generator=g)
    out["num_items_in_batch"] = out["completion_mask"].sum()
    theirs = trainer._compute_loss(model, out)
    theirs.backward()
    trl_grads = _lora_grads(model)

    logps, _, _ = trainer._get_per_token_logps_and_entropies(
        model,
        torch.cat([out["prompt_ids"], out["completion_ids"]], 1),
        torch.cat([out["prompt_mask"], out["completion_mask"]], 1),
        out["completion_ids"].size(1),
    )
    ours = policy_loss(
        logps,
        out["old_per_token_logps"],
        out["advantages"],
        out["completion_mask"],
        loss_type=loss_type,
        epsilon=0.2,
        epsilon_high=0.28,
        beta=0.1,
        ref_logps=out["ref_per_token_logps"],
        max_completion_length=8,
        kl_correction=kl_correction,
    )
    ours.loss.backward()
    our_grads = _lora_grads(model)
    torch.testing.assert_close(ours.loss.detach(), theirs.detach(), atol=TOL, rtol=TOL)
    assert our_grads.keys() == trl_grads.keys() and our_grads
    for name in trl_grads:
        torch.testing.assert_close(our_grads[name], trl_grads[name], atol=TOL, rtol=1e-4)
    assert 0.0 < ours.clipped_low + ours.clipped_high < 1.0  # the perturbed old policy clips some tokens
    assert ours.kl is not None and ours.kl > 0


def test_loss_rejects_bad_settings():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="loss_type"):
        policy_loss(x, None, torch.zeros(2), torch.ones(2, 3), loss_type="ppo")
    with pytest.raises(ValueError, match="reference"):
        policy_loss(x, None, torch.zeros(2), torch.ones(2, 3), beta=0.1)
    with pytest.raises(ValueError, match="max_completion_length"):
        policy_loss(x, None, torch.zeros(2), torch.ones(2, 3), loss_type="dr_grpo")
