"""One DP-SGD step (`train.privacy`): Poisson-sampled units, per-record gradients, per-unit clip, noise.

Per-record gradients come from Opacus' GradSampleModule hooks (LoRA's A/B are nn.Linear; a full
fine-tune only where Opacus has a grad sampler for every trainable layer). A record's loss is the *mean*
cross-entropy over its label tokens: each record then weighs the same whatever its length, like a sample
in DP-SGD, and a unit's gradient is the sum of its records'. Opacus' DPOptimizer clips each unit's
gradient to C, adds N(0, (sigma C)^2) and divides by the expected units per step (not the sampled count,
which would leak it); the wrapped AdamW then steps as usual. The draws and the noise come from the run's
secret (`run_secret`), not from the seed: see privacy.py.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.errors import RunFailed, UserError
from lmforge.training.batches import count_tokens
from lmforge.training.loss import _inputs, split_head, target_mask
from lmforge.training.privacy import PrivacyPlan, add_step, new_secret, noise_seed, poisson_sample

UNIT = "dp_unit"  # batch key: the position of each row's unit among the step's sampled units


class Engine:
    """Opacus' per-sample hooks on the model and its DPOptimizer around the run's optimizer."""

    def __init__(self, model: torch.nn.Module, optimizer: Any, plan: PrivacyPlan) -> None:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        try:
            self.module = GradSampleModule(model, batch_first=True, loss_reduction="sum", strict=True)
        except NotImplementedError as e:  # a trainable layer without a per-sample gradient rule
            raise UserError(f"train.privacy: {str(e).splitlines()[0]} (use model.lora)") from None
        inner = getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper holds the torch optimizer
        # the noise's own generator, on the parameters' device (torch.normal needs both on one device),
        # reseeded from the run's secret before each step: the global RNG is seeded by the public `seed`
        device = next(p.device for p in model.parameters() if p.requires_grad)
        self.noise = torch.Generator(device=device)
        self.optimizer = DPOptimizer(
            inner,
            noise_multiplier=plan.noise_multiplier,
            max_grad_norm=plan.max_grad_norm,
            expected_batch_size=plan.sample_rate * len(plan.units),  # float: the mean units per step
            loss_reduction="mean",
            generator=self.noise,
        )
        self.params = [p for p in model.parameters() if p.requires_grad]


def dp_windows(run: Any, epoch: int, start: int) -> Iterator[list[dict[str, torch.Tensor]]]:
    """Each step of the epoch from window `start`: the sampled units' records, cut into micro-batches of
    `batch_size` records (any number of them, none when no unit was drawn)."""
    plan, t = run.privacy, run.cfg.train
    for w in range(start, run.epoch_steps):
        drawn = poisson_sample(len(plan.units), plan.sample_rate, run_secret(run), epoch, w)
        rows = [(pos, r) for pos, u in enumerate(drawn) for r in plan.units[u]]
        batches = []
        for i in range(0, len(rows), t.batch_size):
            part = rows[i : i + t.batch_size]
            batch = run.collate([run.units[r] for _, r in part], run.pad_id)
            batch["n_tokens"] = torch.tensor(sum(len(run.units[r]["input_ids"]) for _, r in part))
            batch[UNIT] = torch.tensor([pos for pos, _ in part])
            batches.append(batch)
        yield batches


def record_losses(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed CE, label tokens) of each row: two (B,) tensors."""
    keep = target_mask(batch)  # (B, T-1)
    targets = batch["labels"][:, 1:][keep]  # (N,)
    backbone, head = split_head(model)
    if backbone is None or any(p.requires_grad for p in head.parameters()):
        # a trained head needs its rows in the batch dimension for the per-sample hooks: full logits
        logits = model(**_inputs(batch)).logits[:, :-1][keep]  # (N, V)
    else:
        logits = head(backbone(**_inputs(batch)).last_hidden_state[:, :-1][keep])  # (N, V)
    ce = F.cross_entropy(logits.float(), targets, reduction="none")  # (N,)
    rows = keep.nonzero()[:, 0]  # (N,) the row of each target
    sums = torch.zeros(keep.shape[0], device=ce.device).index_add(0, rows, ce)
    return sums, keep.sum(1)


def dp_step(run: Any, window: list[dict[str, torch.Tensor]]) -> tuple[float, int, int]:
    """Backward every record, clip per unit, noise, step; returns (loss, label tokens, input tokens)."""
    acc, engine, plan = run.accelerator, run.privacy.engine, run.privacy
    window = [{k: v.to(acc.device) for k, v in b.items()} for b in window]
    run.model.train()
    total, n = 0.0, 0
    for batch in window:
        with acc.autocast():
            sums, counts = record_losses(run.model, batch)
        with warnings.catch_warnings():  # frozen inputs of the first LoRA layer: the hooks need only outputs
            warnings.filterwarnings("ignore", message="Full backward hook", category=UserWarning)
            (sums / counts.clamp(min=1)).sum().backward()  # grad_sample row i: record i's mean-CE gradient
        total, n = total + float(sums.detach().sum()), n + int(counts.sum())
    loss = total / max(n, 1)
    if not math.isfinite(loss):
        engine.optimizer.zero_grad(set_to_none=True)
        raise RunFailed(f"loss is {loss} at step {run.state.step + 1}; training stopped")
    _per_unit(engine.params, window)
    engine.noise.manual_seed(noise_seed(run_secret(run), run.state.step))  # a resumed step: the same noise
    engine.optimizer.pre_step()  # clip each unit's gradient, add the noise, divide by expected units
    run.optimizer.step()
    run.scheduler.step()
    engine.optimizer.zero_grad(set_to_none=True)
    run.state.privacy_history = add_step(run.state.privacy_history, plan.noise_multiplier, plan.sample_rate)
    return loss, n, sum(count_tokens(b) for b in window)


def _per_unit(params: list[torch.Tensor], window: list[dict[str, torch.Tensor]]) -> None:
    """Replace each parameter's per-record gradients (R, ...) by per-unit sums (U, ...); a step with no
    record gets one zero row, so the step is still noise (skipping it would tell that no unit was drawn)."""
    unit = torch.cat([b[UNIT] for b in window]) if window else torch.zeros(0, dtype=torch.long)
    n_units = int(unit.max()) + 1 if len(unit) else 1
    for p in params:
        rows = p.grad_sample if window else None
        if rows is None:
            p.grad_sample = torch.zeros((n_units, *p.shape), dtype=p.dtype, device=p.device)
            continue
        rows = torch.cat(rows) if isinstance(rows, list) else rows  # (R, ...) over the micro-batches
        summed = torch.zeros((n_units, *p.shape), dtype=rows.dtype, device=rows.device)
        p.grad_sample = summed.index_add_(0, unit.to(rows.device), rows)


def run_secret(run: Any) -> bytes:
    """The run's DP secret: the checkpoint's after a resume, else drawn from the OS on first use (also when
    resuming a checkpoint written before secrets existed: fresh randomness, never the seed's)."""
    if run.state.dp_secret is None:
        run.state.dp_secret = new_secret()
    return run.state.dp_secret


def attach(run: Any, from_disk: bool) -> PrivacyPlan:
    """The run's privacy plan (units, rate, noise) with its engine on the model and optimizer."""
    from lmforge.training.privacy import plan_privacy
    from lmforge.training.privacy_data import example_keys

    keys = example_keys(run.cfg, run.tokenizer, run.units, from_disk)
    plan = plan_privacy(run.cfg, keys, run.total_steps)
    plan.engine = Engine(run.model, run.optimizer, plan)
    return plan
