"""GRPO's two pure parts: group-normalised advantages from rewards, and the clipped policy loss.

The formulas are TRL's `GRPOTrainer` (1.16: `_generate_and_score_completions` for the advantages,
`_compute_loss` for the loss; tests/training/test_grpo_loss.py checks both against TRL on the same
tensors). Written here as functions, not called from TRL, because TRL computes them inside its trainer.

Shapes: N completions = P prompts x G generations, in prompt order (the G of one prompt adjacent);
T = completion tokens (right-padded, `mask` 1 on the tokens that count).

Loss types (the normalisation is what differs):
- `grpo`: each completion's mean over its tokens, then the mean over completions (DeepSeekMath).
- `bnpo`: the sum over every token of the micro-batch / its token count.
- `dr_grpo`: the sum / (N x max_completion_length), a constant (Dr. GRPO: no length bias).
- `dapo`: the sum / the tokens of the whole generation batch (DAPO's token-level loss; equal to `bnpo`
  when the micro-batch is the generation batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
SCALES = ("group", "batch", "none")


def nanstd(x: torch.Tensor, dim: int | None = None, keepdim: bool = False) -> torch.Tensor:
    """Sample standard deviation ignoring NaN (Bessel-corrected; NaN for fewer than two values).

    >>> nanstd(torch.tensor([1.0, 3.0, float("nan")]))
    tensor(1.4142)
    """
    if dim is None:
        x, dim = x.reshape(-1), 0
    mean = torch.nanmean(x, dim=dim, keepdim=True)
    count = (~torch.isnan(x)).sum(dim=dim, keepdim=True)
    var = torch.nanmean((x - mean) ** 2, dim=dim, keepdim=True) * count / (count - 1)
    var = torch.where(count > 1, var, torch.full_like(var, float("nan")))
    std = var.sqrt()
    return std if keepdim else std.squeeze(dim)


@dataclass
class Advantages:
    advantages: torch.Tensor  # (N,), 0 where no reward function scored the completion
    rewards: torch.Tensor  # (N,) weighted sum, NaN where unscorable
    std_is_zero: torch.Tensor  # (N,) bool: the group (or batch) all scored alike: no signal


def group_advantages(
    per_func: torch.Tensor, weights: torch.Tensor, generations: int, scale: str = "group"
) -> Advantages:
    """(N, F) rewards of F functions (NaN: the function returned None) -> advantages per completion.

    reward = sum_f w_f r_f; advantage = reward - its group's mean, divided by the group's (or the whole
    batch's, `scale="batch"`) std + 1e-4 unless `scale="none"` (Dr. GRPO). A completion no function
    scored is left out of its group's mean and gets advantage 0.
    >>> group_advantages(torch.tensor([[1.0], [0.0]]), torch.ones(1), 2).advantages
    tensor([ 0.7070, -0.7070])
    """
    if scale not in SCALES:
        raise ValueError(f"scale_rewards must be one of {SCALES}, not {scale!r}")
    unscorable = torch.isnan(per_func).all(dim=1)
    rewards = (per_func * weights.unsqueeze(0)).nansum(dim=1)
    rewards[unscorable] = torch.nan
    grouped = rewards.view(-1, generations)  # (P, G)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(generations)
    if scale == "batch":
        std = nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
    elif generations > 1:
        std = nanstd(grouped, dim=1).repeat_interleave(generations)
    else:
        std = torch.zeros_like(rewards)
    adv = rewards - mean
    if scale != "none":
        adv = adv / (std + 1e-4)
    return Advantages(torch.nan_to_num(adv, nan=0.0), rewards, torch.isclose(std, torch.zeros_like(std)))


@dataclass
class PolicyLoss:
    loss: torch.Tensor  # scalar, what backward() is called on (before any accumulation scaling)
    clipped_low: float  # share of counted tokens whose ratio was clipped below (advantage < 0)
    clipped_high: float  # ... above (advantage > 0)
    kl: float | None  # mean per-token KL to the reference (k3 estimator), None when beta = 0


def policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str = "dapo",
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    beta: float = 0.0,
    ref_logps: torch.Tensor | None = None,
    max_completion_length: int | None = None,
    batch_tokens: float | None = None,
    kl_correction: bool = True,
) -> PolicyLoss:
    """(N, T) token log-probs under the policy being trained -> the clipped surrogate loss.

    `old_logps`: the log-probs when the completions were sampled (None: the first update of a generation
    batch, where they equal `logps` detached). ratio = exp(logps - old); per token
    -min(ratio A, clip(ratio, 1 - epsilon, 1 + epsilon_high) A) + beta KL(policy || reference).
    `batch_tokens`: the counted tokens of the whole generation batch, for `dapo` (default: this one's).
    `kl_correction`: the KL term times the ratio, so its gradient is the unbiased reverse-KL gradient
    (DeepSeek-V3.2; TRL's default `use_bias_correction_kl`).
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, not {loss_type!r}")
    eps_high = epsilon if epsilon_high is None else epsilon_high
    mask = mask.to(logps.dtype)
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages  # (N, 1)
    old = logps.detach() if old_logps is None else old_logps
    ratio = torch.exp(logps - old)  # (N, T)
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + eps_high)
    per_token = -torch.min(ratio * adv, clipped * adv)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta > 0 needs the reference model's log-probs")
        per_token_kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        if kl_correction:
            per_token_kl = per_token_kl * ratio
        per_token = per_token + beta * per_token_kl
        kl = _masked_mean(per_token_kl.detach(), mask)
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    elif loss_type == "bnpo":
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    elif loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("dr_grpo normalises by max_completion_length: give it")
        loss = (per_token * mask).sum() / (per_token.size(0) * max_completion_length)
    else:  # dapo
        tokens = mask.sum() if batch_tokens is None else torch.tensor(float(batch_tokens))
        loss = (per_token * mask).sum() / tokens.clamp(min=1.0)
    with torch.no_grad():
        low = ((ratio < 1 - epsilon) & (adv < 0)).to(mask.dtype)
        high = ((ratio > 1 + eps_high) & (adv > 0)).to(mask.dtype)
        return PolicyLoss(loss, _masked_mean(low, mask), _masked_mean(high, mask), kl)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    return float((x * mask).sum() / mask.sum().clamp(min=1.0))
