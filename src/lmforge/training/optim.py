"""AdamW without decay on biases and norms, and the learning-rate schedule (stepped once per optimizer step)."""

from __future__ import annotations

import math
from typing import Any

import torch

from lmforge.config import TrainConfig


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters split by decay: matrices decay; biases, norm scales (1-D) do not.

    Embeddings are matrices and decay, as in nanoGPT and torchtune.
    >>> [len(g["params"]) for g in param_groups(torch.nn.Linear(2, 2), 0.1)]
    [1, 1]
    """
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, fused where this torch build has a fused kernel for the device (CPU and CUDA), else foreach."""
    groups = [g for g in param_groups(model, cfg.weight_decay) if g["params"]]
    try:
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, foreach=True)


def warmup_steps(cfg: TrainConfig, total_steps: int) -> int:
    """`warmup_steps` when set, else ceil(warmup_ratio x total): 0.03 x 1000 -> 30."""
    if cfg.warmup_steps is not None:
        return min(cfg.warmup_steps, total_steps)
    return math.ceil(cfg.warmup_ratio * total_steps)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> Any:
    """transformers' constant / linear / cosine schedules with linear warmup."""
    from transformers import (
        get_constant_schedule_with_warmup,
        get_cosine_schedule_with_warmup,
        get_linear_schedule_with_warmup,
    )

    warm = warmup_steps(cfg, total_steps)
    if cfg.scheduler == "constant":
        return get_constant_schedule_with_warmup(optimizer, warm)
    if cfg.scheduler == "linear":
        return get_linear_schedule_with_warmup(optimizer, warm, total_steps)
    return get_cosine_schedule_with_warmup(optimizer, warm, total_steps)
