"""DP-SGD bookkeeping (`train.privacy`): what a run may do, the noise, the accountant, the Poisson sampler.

The privacy unit is a record, or every record of one `data.privacy_unit` value (one person). Each step
samples every unit independently with probability q = batch_size x grad_accum / records (Poisson
sampling, what the accountants assume), takes all records of the sampled units, clips each unit's summed
gradient to `max_grad_norm` and adds N(0, (noise_multiplier x max_grad_norm)^2) noise (Opacus'
DPOptimizer; the engine is privacy_loop.py). Epsilon comes from Opacus' accountant over the steps taken;
its history (noise, rate, steps) lives in the checkpoint's state.json, so a resumed run keeps it.

Which units are drawn and the noise both come from a per-run secret drawn from the OS (`new_secret`), never
from `seed`: the seed ships in final/lmforge.json, and whoever knew the draws and the noise could subtract
the noise from the adapter. The secret is kept only in checkpoints (dp_secret.bin), so a resume is exact.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import UserError

History = list[list[float]]  # Opacus accountant history: [noise_multiplier, sample_rate, steps] entries


def check_privacy(cfg: Any) -> None:
    """Refuse, in one line, what would break the guarantee or what Opacus cannot do here."""
    t = cfg.train
    if t.privacy is None:
        return
    if t.num_processes > 1:
        raise UserError("train.privacy runs in one process: set train.num_processes: 1")
    if cfg.model.lora is None:  # Opacus' hooks fail on a trained head tied to the input embedding
        raise UserError(
            "train.privacy trains LoRA adapters only: set model.lora (full fine-tuning is not wired)"
        )
    if cfg.task.head == "classifier":
        raise UserError(
            "train.privacy supports LM heads only (task.head: lm); a classifier head is not wired"
        )
    if getattr(t, "objective", "sft") != "sft":
        raise UserError(f"train.privacy supports train.objective: sft only, not {t.objective}")
    if t.gradient_checkpointing:  # recomputed forwards would record each layer's activations twice
        raise UserError("train.privacy cannot run with train.gradient_checkpointing (per-sample hooks)")


def sample_rate(cfg: Any, n_records: int) -> float:
    """q: the chance that a unit is in a step's batch, so a step holds batch_size x grad_accum records
    on average.

    >>> sample_rate(cfg, 1000)  # batch_size 8, grad_accum 2  # doctest: +SKIP
    0.016
    """
    return min(1.0, cfg.train.batch_size * cfg.train.grad_accum / max(n_records, 1))


def noise_multiplier(privacy: Any, rate: float, steps: int) -> float:
    """`privacy.noise_multiplier`, else Opacus' smallest sigma whose epsilon after `steps` <= the target.

    >>> round(noise_multiplier(PrivacyConfig(target_epsilon=8), 0.01, 1000), 3)  # doctest: +SKIP
    0.739
    """
    if privacy.noise_multiplier is not None:
        return float(privacy.noise_multiplier)
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():  # as in `epsilon`
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(
            get_noise_multiplier(
                target_epsilon=privacy.target_epsilon,
                target_delta=privacy.delta,
                sample_rate=rate,
                steps=steps,
                accountant=privacy.accountant,
            )
        )


def epsilon(history: History, delta: float, accountant: str = "rdp") -> float:
    """Epsilon spent by the steps in `history` (0 before the first step), by Opacus' accountant.

    >>> round(epsilon([[1.0, 0.01, 1000]], 1e-5), 2)  # doctest: +SKIP
    1.82
    """
    if not history:
        return 0.0
    return _epsilon(tuple((float(s), float(q), int(n)) for s, q, n in history), delta, accountant)


@functools.lru_cache(maxsize=256)  # the loop asks for each step's epsilon twice (budget check, log row)
def _epsilon(history: tuple[tuple[float, float, int], ...], delta: float, accountant: str) -> float:
    with warnings.catch_warnings():  # "optimal order is the largest alpha": the bound is still valid
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        if accountant == "rdp":  # RDP adds up over steps: one step's RDP per (sigma, q), times the steps
            from opacus.accountants.analysis.rdp import get_privacy_spent
            from opacus.accountants.rdp import RDPAccountant

            rdp = sum(n * np.asarray(_rdp_step(s, q)) for s, q, n in history)
            return float(get_privacy_spent(orders=RDPAccountant.DEFAULT_ALPHAS, rdp=rdp, delta=delta)[0])
        from opacus.accountants import create_accountant

        acc = create_accountant(accountant)
        acc.history = list(history)
        return float(acc.get_epsilon(delta=delta))


@functools.lru_cache(maxsize=64)
def _rdp_step(sigma: float, q: float) -> tuple[float, ...]:
    from opacus.accountants.analysis.rdp import compute_rdp
    from opacus.accountants.rdp import RDPAccountant

    return tuple(compute_rdp(q=q, noise_multiplier=sigma, steps=1, orders=RDPAccountant.DEFAULT_ALPHAS))


def add_step(history: History, sigma: float, rate: float) -> History:
    """History after one more step (consecutive equal steps merged, as Opacus' RDP accountant does).

    >>> add_step([[1.0, 0.1, 3]], 1.0, 0.1)
    [[1.0, 0.1, 4]]
    """
    if history and history[-1][0] == sigma and history[-1][1] == rate:
        return [*history[:-1], [sigma, rate, int(history[-1][2]) + 1]]
    return [*history, [sigma, rate, 1]]


SECRET_BYTES = 32  # 256 bits: no seed space an attacker could search


def new_secret() -> bytes:
    """A run's secret DP randomness, from the OS's CSPRNG (never derived from `seed`).

    >>> len(new_secret())
    32
    """
    return secrets.token_bytes(SECRET_BYTES)


def _stream(secret: bytes, label: str, n_bytes: int) -> bytes:
    # SHAKE-256 over (secret, label) is a keyed extendable-output function: without the secret its bytes
    # cannot be predicted, and each label (a step, a purpose) gets its own independent stream
    return hashlib.shake_256(secret + b"|" + label.encode()).digest(n_bytes)


def poisson_sample(n_units: int, rate: float, secret: bytes, epoch: int, window: int) -> list[int]:
    """Units in step (epoch, window): each independently with probability `rate`, drawn from a
    cryptographic stream keyed by the run's secret, so a resumed run (which reloads the secret) re-derives
    the same batches and nobody without it can.

    >>> poisson_sample(4, 1.0, new_secret(), epoch=0, window=0)
    [0, 1, 2, 3]
    """
    raw = np.frombuffer(_stream(secret, f"sample:{epoch}:{window}", 8 * n_units), dtype="<u8")
    uniform = (raw >> np.uint64(11)).astype(np.float64) / 2.0**53  # (n_units,) in [0, 1), 53 bits each
    return np.flatnonzero(uniform < rate).tolist()


def noise_seed(secret: bytes, step: int) -> int:
    """The 64-bit seed of step `step`'s Gaussian noise (torch generators take at most 64 bits).

    >>> noise_seed(bytes(32), 0) == noise_seed(bytes(32), 0) != noise_seed(bytes(32), 1)
    True
    """
    return int.from_bytes(_stream(secret, f"noise:{step}", 8), "little")


def group_units(keys: Sequence[Hashable]) -> list[list[int]]:
    """Record indices of each privacy unit, units in order of first appearance.

    >>> group_units(["a", "b", "a"])
    [[0, 2], [1]]
    """
    groups: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return list(groups.values())


@dataclass
class PrivacyPlan:
    """What a DP run fixes before its first step; `engine` is privacy_loop.Engine once attached."""

    units: list[list[int]]  # record (example) indices of each privacy unit
    sample_rate: float
    noise_multiplier: float
    max_grad_norm: float
    delta: float
    accountant: str
    target_epsilon: float | None
    engine: Any = None

    def epsilon(self, history: History) -> float:
        return epsilon(history, self.delta, self.accountant)

    def over_budget(self, history: History) -> bool:
        """True when one more step would spend more than the target (the run stops before it)."""
        if self.target_epsilon is None:
            return False
        return self.epsilon(add_step(history, self.noise_multiplier, self.sample_rate)) > self.target_epsilon

    def summary(self, history: History) -> dict[str, float | int | str | None]:
        return {
            "epsilon": round(self.epsilon(history), 4),
            "delta": self.delta,
            "target_epsilon": self.target_epsilon,
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "max_grad_norm": self.max_grad_norm,
            "privacy_units": len(self.units),
            "accountant": self.accountant,
        }


def plan_privacy(cfg: Any, keys: Sequence[Hashable], total_steps: int) -> PrivacyPlan:
    """The plan of a run whose examples have privacy-unit `keys` (one per example)."""
    p = cfg.train.privacy
    units = group_units(keys)
    if p.delta >= 1 / len(units):
        raise UserError(
            f"train.privacy.delta {p.delta:g} must be below 1 / privacy units = {1 / len(units):.3g}"
        )
    # q per unit = batch x accum / records: a step holds batch x accum records on average and an
    # epoch (1 / q steps) sees every unit once on average, as without groups
    rate = sample_rate(cfg, len(keys))
    plan = PrivacyPlan(
        units=units,
        sample_rate=rate,
        noise_multiplier=noise_multiplier(p, rate, total_steps),
        max_grad_norm=p.max_grad_norm,
        delta=p.delta,
        accountant=p.accountant,
        target_epsilon=p.target_epsilon,
    )
    if plan.over_budget([]):
        raise UserError(
            f"train.privacy: noise_multiplier {plan.noise_multiplier:g} spends more than target_epsilon "
            f"{p.target_epsilon:g} in not even one step: raise the noise or the target"
        )
    return plan


def trained_epsilon(model_dir: Path) -> dict[str, float]:
    """{"epsilon": spent} of a model folder (or run folder) trained with train.privacy, else {}.

    >>> trained_epsilon(Path("runs/dp/final"))  # doctest: +SKIP
    {'epsilon': 7.9984}
    """
    folder = model_dir / "final" if (model_dir / "final").is_dir() else model_dir
    try:
        privacy = json.loads((folder / "lmforge.json").read_text(encoding="utf-8")).get("privacy")
    except (OSError, ValueError):
        return {}
    return {"epsilon": float(privacy["epsilon"])} if isinstance(privacy, dict) else {}
