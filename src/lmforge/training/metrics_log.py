"""metrics.jsonl + TensorBoard scalars + the progress bar, written by the main process only."""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

import torch


def peak_mem_mb() -> float:
    """Peak GPU memory allocated, or the process's peak resident memory on CPU (Linux reports KiB)."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class MetricsLog:
    """Append rows to metrics.jsonl and TensorBoard; on resume, rows after the checkpoint are dropped first.

    >>> log = MetricsLog(Path("runs/x"), resume_step=None); log.write({"step": 10, "loss": 2.1}); log.close()
    ... # doctest: +SKIP
    """

    def __init__(self, run_dir: Path, resume_step: int | None, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.writer = None
        if not enabled:
            return
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
        else:
            self._truncate_after(resume_step)  # the killed run may have logged steps that are redone now
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=(resume_step or 0) + 1)

    def _truncate_after(self, step: int) -> None:
        if not self.path.is_file():
            return
        rows = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        kept = [r for r in rows if json.loads(r).get("step", 0) <= step]
        self.path.write_text("".join(r + "\n" for r in kept), encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(_tb_name(key), value, row["step"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _tb_name(key: str) -> str:
    return f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"


def progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, disable=not enabled, desc="train", unit="step", dynamic_ncols=True
    )
