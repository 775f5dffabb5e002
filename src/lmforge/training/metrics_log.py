"""metrics.jsonl + the experiment trackers (trackers.py) + the progress bar, written by the main process only."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

import torch

from lmforge.atomic_files import atomic_write_text, fault_point
from lmforge.training.trackers import Trackers


def peak_mem_mb() -> float:
    """Peak GPU memory allocated, or the process's peak resident memory on CPU (Linux reports KiB)."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


TRAIN_KEYS = ("step", "epoch", "loss", "lr", "tokens", "tokens_per_s", "peak_mem_mb")


def metrics_keys(cfg: Any, has_val: bool) -> list[str]:
    """The keys of every metrics.jsonl row of a run, in order; a value not measured at a step is null
    (an evaluation-only row has no `loss` or `tokens_per_s`, the train rows between evaluations no
    `val_loss`)."""
    from lmforge.training.preference_loss import stat_keys

    objective = cfg.train.objective if cfg is not None else "sft"
    keys = [*TRAIN_KEYS, *stat_keys(objective)]
    if has_val:
        keys += ["val_loss", "val_perplexity", *stat_keys(objective, "val")]
    if cfg is not None and cfg.train.privacy is not None:
        keys.append("epsilon")
    if objective == "grpo":
        from lmforge.training.grpo import stat_keys as grpo_keys

        keys += grpo_keys(cfg.train)
    return keys


class MetricsLog:
    """Append rows to metrics.jsonl and the trackers of `train.report_to`; on resume, rows after the
    checkpoint are dropped first (the killed run may have logged steps that are redone now). Every row
    has the keys of metrics_keys(), null where a value was not measured.

    >>> log = MetricsLog(Path("runs/x"), resume_step=None, cfg=cfg); log.write({"step": 10, "loss": 2.1})
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        run_dir: Path,
        resume_step: int | None,
        enabled: bool = True,
        cfg: Any = None,
        has_val: bool = True,
    ) -> None:
        self.enabled = enabled
        self.keys = metrics_keys(cfg, has_val)
        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self.trackers: Trackers | None = None
        if not enabled:
            return
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
            rows = []
        else:
            rows = self._truncate_after(resume_step)
        names = list(cfg.train.report_to) if cfg is not None else ["tensorboard"]
        self.trackers = Trackers(names, run_dir, cfg, resume_step)
        self.trackers.replay(rows)  # rows a tracker does not hold: one added on resume, or lost at a kill

    def _truncate_after(self, step: int) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a kill -9 in the middle of a write leaves half a line
                if line.strip():
                    print(f"lmforge: resume: dropped an incomplete line of {self.path}", file=sys.stderr)
        kept = [r for r in rows if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        return kept

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row = {**{k: row.get(k) for k in self.keys}, **{k: v for k, v in row.items() if k not in self.keys}}
        line = json.dumps(row) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line[: len(line) // 2])
            f.flush()
            fault_point("metrics:half-line")  # the kill tests leave half a line here
            f.write(line[len(line) // 2 :])
        self.trackers.log_metrics(row, row["step"])

    def finish(self, metrics: dict[str, Any]) -> None:
        """The run's final metrics (final/<name>, with the peak memory) and its files, then end the trackers."""
        if self.trackers is None:
            return
        final = {f"final/{k}": v for k, v in metrics.items() if v is not None}
        self.trackers.log_metrics({**final, "final/peak_mem_mb": peak_mem_mb()}, None)
        self.trackers.log_artifacts([self.run_dir / "config.yaml", self.path])
        self.trackers.finish()

    def close(self) -> None:
        """End the trackers; called in a `finally`, so a run that raised is marked FAILED, or KILLED
        when interrupted or pruned (an Optuna trial that lags the others)."""
        if self.trackers is not None:
            error = sys.exc_info()[1]
            stopped = isinstance(error, KeyboardInterrupt) or type(error).__name__ == "TrialPruned"
            self.trackers.finish("KILLED" if stopped else "FAILED")


def progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, disable=not enabled, desc="train", unit="step", dynamic_ncols=True
    )
