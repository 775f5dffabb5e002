"""Preference objectives: DPO (sigmoid; conservative with label smoothing), IPO, ORPO, SimPO, KTO.

Each is a function of per-sequence log-probabilities: (policy, reference) -> per-pair losses and the
implicit rewards that the metrics report. The formulas are TRL's (DPOTrainer loss_type sigmoid / ipo,
CPOTrainer loss_type simpo, ORPOTrainer, KTOTrainer loss_type kto); tests/training/test_objectives.py
checks losses and gradients against TRL on the same batch. Written here, not called from TRL, because
TRL computes them inside its trainers (one method of a Trainer subclass per objective), not as functions.

A pair batch (`collate_pairs`) holds 2B rows, the B chosen sequences then the B rejected ones; a KTO
batch (`collate_kto`) B rows then B "KL" rows (prompt i with completion i-1: KTO's reference point).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

PREFERENCE = ("dpo", "ipo", "orpo", "simpo", "kto")
NEEDS_REFERENCE = ("dpo", "ipo", "kto")  # ORPO and SimPO need no reference model
AVERAGED = ("ipo", "orpo", "simpo")  # objectives on the mean log-prob per answer token


@dataclass
class PairLosses:
    """Per-pair (B,) losses and rewards; `loss_sum` is what the micro-batch adds to the window."""

    losses: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor
    loss_sum: torch.Tensor


def dpo_losses(delta: torch.Tensor, beta: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """DPO's sigmoid loss of the log-ratio difference delta = (pi_c - ref_c) - (pi_r - ref_r), (B,) -> (B,).

    With label smoothing e (conservative DPO): -(1 - e) log s(beta delta) - e log s(-beta delta).
    >>> dpo_losses(torch.tensor([0.0]), 0.1)
    tensor([0.6931])
    """
    return -(1 - label_smoothing) * F.logsigmoid(beta * delta) - label_smoothing * F.logsigmoid(-beta * delta)


def ipo_losses(delta_per_token: torch.Tensor, beta: float) -> torch.Tensor:
    """IPO: (delta - 1 / (2 beta))^2 on the per-token log-ratio difference (TRL normalises by length).

    >>> ipo_losses(torch.tensor([5.0]), 0.1)
    tensor([0.])
    """
    return (delta_per_token - 1 / (2 * beta)) ** 2


def simpo_losses(
    chosen_avg: torch.Tensor, rejected_avg: torch.Tensor, beta: float, gamma: float, e: float = 0.0
):
    """SimPO: -log s(beta (avg_c - avg_r) - gamma) (with label smoothing e as CPOTrainer has it).

    >>> simpo_losses(torch.tensor([-1.0]), torch.tensor([-1.0]), 2.0, 0.0)
    tensor([0.6931])
    """
    logits = beta * (chosen_avg - rejected_avg) - gamma
    return -F.logsigmoid(logits) * (1 - e) - F.logsigmoid(-logits) * e


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, stable on both sides of -log 2."""
    return torch.where(x < -0.6931471805599453, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def orpo_ratio(chosen_avg: torch.Tensor, rejected_avg: torch.Tensor) -> torch.Tensor:
    """ORPO's log s(log odds(chosen) - log odds(rejected)) of mean token log-probs, (B,) -> (B,).

    >>> orpo_ratio(torch.tensor([-1.0]), torch.tensor([-1.0]))
    tensor([-0.6931])
    """
    log_odds = (chosen_avg - rejected_avg) - (log1mexp(chosen_avg) - log1mexp(rejected_avg))
    return F.logsigmoid(log_odds)


def kto_losses(
    logratios: torch.Tensor,
    desirable: torch.Tensor,
    kl: torch.Tensor,
    beta: float,
    weights: tuple[float, float],
) -> torch.Tensor:
    """KTO: 1 - s(beta (r - KL)) for desirable answers, 1 - s(beta (KL - r)) for undesirable ones, weighted.

    >>> kto_losses(torch.tensor([0.0, 0.0]), torch.tensor([True, False]), torch.tensor(0.0), 0.1, (1.0, 1.0))
    tensor([0.5000, 0.5000])
    """
    good = weights[0] * (1 - torch.sigmoid(beta * (logratios - kl)))
    bad = weights[1] * (1 - torch.sigmoid(beta * (kl - logratios)))
    return torch.where(desirable, good, bad)


def pair_losses(
    objective: str, t: Any, logps: torch.Tensor, counts: torch.Tensor, ref: torch.Tensor | None
) -> PairLosses:
    """The objective on a pair batch: logps (2B,) summed answer log-probs, counts (2B,) answer tokens,
    ref (2B,) the reference's summed log-probs (None for ORPO and SimPO); `t` the train config."""
    b = logps.shape[0] // 2
    avg = logps / counts.clamp(min=1)
    if objective in ("dpo", "ipo"):
        ratio = logps - ref  # (2B,)
        if objective == "dpo":
            losses = dpo_losses(ratio[:b] - ratio[b:], t.beta, t.label_smoothing)
        else:
            per_token = ratio / counts.clamp(min=1)
            losses = ipo_losses(per_token[:b] - per_token[b:], t.beta)
        rewards = t.beta * ratio.detach()
        return PairLosses(losses, rewards[:b], rewards[b:], losses.sum())
    rewards = t.beta * avg.detach()
    if objective == "simpo":
        losses = simpo_losses(avg[:b], avg[b:], t.beta, t.simpo_gamma, t.label_smoothing)
        return PairLosses(losses, rewards[:b], rewards[b:], losses.sum())
    if objective == "orpo":  # NLL of the chosen answers (token mean over the micro-batch) - lambda * ratio
        nll = -logps[:b].sum() / counts[:b].sum().clamp(min=1)
        losses = nll - t.beta * orpo_ratio(avg[:b], avg[b:])
        return PairLosses(losses, rewards[:b], rewards[b:], losses.sum())
    raise ValueError(f"not a pair objective: {objective}")


def kto_pair_losses(
    t: Any, logps: torch.Tensor, ref: torch.Tensor, desirable: torch.Tensor
) -> tuple[PairLosses, torch.Tensor]:
    """KTO on a KTO batch: logps / ref (2B,) = B answers then B KL rows; desirable (B,) bools.

    Returns the losses (rewards: desirable rows in `chosen_rewards`, the others in `rejected_rewards`)
    and the batch's KL estimate (mean policy - reference log-ratio of the mismatched rows, >= 0, detached).
    """
    b = logps.shape[0] // 2
    kl = (logps[b:] - ref[b:]).mean().detach().clamp(min=0)
    ratio = logps[:b] - ref[:b]
    losses = kto_losses(ratio, desirable, kl, t.beta, tuple(t.kto_weights))
    rewards = t.beta * ratio.detach()
    return PairLosses(losses, rewards[desirable], rewards[~desirable], losses.sum()), kl
