"""What `train` checks before any model loads (and before `train.num_processes` relaunches under torchrun,
so that a user error is one line, exit 2, not every rank's traceback).

- the run folder: a new run must not land in an old one; `--resume` needs a checkpoint;
- on resume, the saved config must equal the new one but for the keys that do not change what is trained
  (RESUMABLE_CHANGES): a changed `train.lr` or data would silently train a mix;
- the prepared data and the model exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lmforge.atomic_files import recover_dir
from lmforge.config import ExperimentConfig
from lmforge.errors import UserError
from lmforge.training.checkpoint import list_checkpoints

# keys that may differ on --resume: how long to go on, how often to log/evaluate/save, where to report
RESUMABLE_CHANGES = (
    "train.max_steps",
    "train.epochs",
    "train.log_every",
    "train.eval_every",
    "train.save_every",
    "train.keep",
    "train.early_stopping",
    "train.report_to",
    "data.workers",
    "data.executor",
    "data.ray",
    "eval",
    "tune",
)


def check_run(cfg: ExperimentConfig, resume: bool, data_given: bool = False) -> Path | None:
    """The checkpoint to resume from (None for a new run); a UserError for anything that would fail later."""
    out = Path(cfg.train.output_dir)
    for folder in ("best", "final"):  # a kill inside their swap left them aside: put them back first
        recover_dir(out / folder)
    checkpoint = _checkpoint(out, resume)
    if checkpoint is not None:
        saved = yaml.safe_load((checkpoint / "config.yaml").read_text(encoding="utf-8")) or {}
        changed = changed_keys(saved, cfg.to_dict())
        if changed:
            shown = ", ".join(changed[:6]) + (f" (+{len(changed) - 6} more)" if len(changed) > 6 else "")
            raise UserError(
                f"--resume: the config differs from the one {checkpoint.name} was trained with: {shown}; "
                f"only {', '.join(RESUMABLE_CHANGES[:7])}, ... may change (or start a new train.output_dir)"
            )
    if not data_given and not (Path(cfg.data.output_dir) / "train.jsonl").is_file():
        raise UserError(
            f"no prepared data: {Path(cfg.data.output_dir) / 'train.jsonl'} not found (run `lmforge prepare` first)"
        )
    return checkpoint


def _checkpoint(out: Path, resume: bool) -> Path | None:
    kept = list_checkpoints(out)
    if resume:
        if not kept:
            raise UserError(f"--resume: no checkpoint in {out / 'checkpoints'} (train.output_dir)")
        return kept[-1]
    if kept or (out / "final").exists():
        raise UserError(f"{out} already holds a run: pass --resume, or set another train.output_dir")
    return None


def changed_keys(saved: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ, but for RESUMABLE_CHANGES.

    >>> changed_keys({"train": {"lr": 1.0, "max_steps": 5}}, {"train": {"lr": 2.0, "max_steps": 9}})
    ['train.lr']
    """
    a, b = _flatten(saved), _flatten(new)
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k) and not _resumable(k)]


def _resumable(key: str) -> bool:
    return any(key == r or key.startswith(r + ".") for r in RESUMABLE_CHANGES)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}
