"""What the training functions share: the `Run` (model, optimizer, data, state of one training run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmforge.config import ExperimentConfig
from lmforge.training.checkpoint import TrainState
from lmforge.training.metrics_log import MetricsLog

Callback = Callable[["Run", dict[str, Any]], None]  # called after every optimizer step with its metrics


@dataclass
class Run:
    """Everything the loop functions share; built by `setup_run` (training/run.py)."""

    cfg: ExperimentConfig
    out: Path
    accelerator: Any
    model: Any  # the HF / peft model (what is saved)
    wrapped: Any  # LossModule as prepared by Accelerate (what is called)
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    units: list[dict[str, Any]]  # training examples or packed bins
    val_units: list[dict[str, Any]]
    collate: Any
    pad_id: int
    total_steps: int
    epoch_steps: int
    log: MetricsLog
    config_yaml: str
    fingerprint: str = ""
    lineage: dict[str, Any] | None = None  # hashes of data, config, base; versions (training/lineage.py)
    callbacks: list[Callback] = field(default_factory=list)
    state: TrainState = field(default_factory=TrainState)
    stop: bool = False
    window_stats: dict[str, float] = field(
        default_factory=lambda: {"loss": 0.0, "n": 0, "tokens": 0, "time": 0.0}
    )
    last: dict[str, Any] = field(default_factory=dict)
    privacy: Any = None  # training/privacy.PrivacyPlan when train.privacy (DP-SGD)
    compiled: Any = None  # training/compiled.CompiledStep unless train.compile is false
    grpo: Any = None  # training/grpo.GrpoStep under train.objective: grpo
