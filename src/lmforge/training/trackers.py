"""Experiment trackers (`train.report_to`): TensorBoard, MLflow and Weights & Biases behind one small interface.

metrics.jsonl stays the run's own record; each tracker gets the same rows. MLflow and W&B are extras
(`pip install lmforge[mlflow]`, `lmforge[wandb]`). A tracker that fails mid-run (disk full, server down)
is warned about once and dropped: it never costs the training run. `train.output_dir/trackers.json` keeps
each tracker's run id and the last step it logged, so a resumed run (and `lmforge eval` after it) continues
the same tracker runs and no step is logged twice.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmforge.errors import UserError
from lmforge.training.tracker_backends import (
    STUDY,
    MLflowTracker,
    TensorBoardTracker,
    Tracker,
    WandbTracker,
    warn,
)

STATE = "trackers.json"
MODULES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def require(names: list[str]) -> None:
    """Refuse, before any work, a tracker whose package is missing; names the extra that installs it."""
    for name in names:
        if importlib.util.find_spec(MODULES[name]) is None:
            raise UserError(f"train.report_to: {name} is not installed (pip install 'lmforge[{name}]')")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> dotted keys; lists stay values.

    >>> flatten({"train": {"lr": 0.1, "report_to": ["mlflow"]}, "seed": 1})
    {'train.lr': 0.1, 'train.report_to': ['mlflow'], 'seed': 1}
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def data_funnel(cfg: Any) -> dict[str, float]:
    """read/kept/rejected per pipeline step from data.output_dir/stats.json ({} before `lmforge prepare`).

    A row {"step": "length", "in": 10, "out": 7} at position 3 -> {"data/03_length/read": 10, .../kept: 7,
    .../rejected: 3}; the position keeps two steps of the same name apart.
    """
    path = Path(cfg.data.output_dir) / "stats.json"
    if not path.is_file():
        return {}
    stats = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, float] = {}
    for i, row in enumerate(stats.get("steps", [])):
        key = f"data/{i:02d}_{row['step']}"
        out.update(
            {f"{key}/read": row["in"], f"{key}/kept": row["out"], f"{key}/rejected": row["in"] - row["out"]}
        )
    for name, value in stats.get("accounting", {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"data/total/{name}"] = value
    return out


def backends() -> dict[str, Callable[[], Tracker]]:
    return {"tensorboard": TensorBoardTracker, "mlflow": MLflowTracker, "wandb": WandbTracker}


class Trackers:
    """The trackers of one run folder, each call guarded: a failing tracker is warned about once and dropped.

    >>> t = Trackers(["mlflow"], Path("runs/x"), cfg, resume=None); t.log_metrics({"loss": 2.1}, 1); t.finish()
    ... # doctest: +SKIP
    """

    def __init__(self, names: list[str], run_dir: Path, cfg: Any, resume: int | None) -> None:
        self.path = run_dir / STATE
        kept = _read_state(self.path) if resume is not None else {}
        self.state: dict[str, Any] = {}
        self.active: list[Tracker] = []
        self.done = False
        for name in dict.fromkeys(names):
            tracker = backends()[name]()
            tracker.state = self.state[name] = dict(kept.get(name, {}))
            self.active.append(tracker)
            last = self._call(tracker, "start", run_dir, cfg, resume)
            tracker.state["last_step"] = -1 if last is None else last
            if last is None and cfg is not None and tracker in self.active:  # a new tracker run
                self._call(tracker, "log_params", flatten(cfg.to_dict()))
                self._call(tracker, "log_metrics", data_funnel(cfg), None)
        self._save()

    def _call(self, tracker: Tracker, method: str, *args: Any) -> Any:
        if tracker not in self.active:
            return None
        try:
            return getattr(tracker, method)(*args)
        except Exception as e:  # noqa: BLE001 - a tracker's failure (disk, network, its own bug) never stops the run
            self.active.remove(tracker)
            warn(
                f"{tracker.name} failed ({type(e).__name__}: {e}); no more {tracker.name} logging in this run"
            )
            return None

    def log_metrics(self, row: dict[str, Any], step: int | None) -> None:
        """The numbers of `row` (bools as 0/1) to every tracker that does not hold `step` yet."""
        values = {k: float(v) for k, v in row.items() if k != "step" and isinstance(v, (int, float))}
        if not values:
            return
        for tracker in list(self.active):
            if step is not None and step <= tracker.state["last_step"]:
                continue  # logged before the kill this run resumes from
            self._call(tracker, "log_metrics", values, step)
            if step is not None and tracker in self.active:  # a failed one keeps its last good step:
                tracker.state["last_step"] = step  # a later --resume sends it the rows it missed
        if step is not None:
            self._save()

    def replay(self, rows: list[dict[str, Any]]) -> None:
        """metrics.jsonl rows a tracker does not hold yet (one added on resume, or rows lost at a kill)."""
        for row in rows:
            self.log_metrics(row, row["step"])

    def log_artifacts(self, paths: list[Path]) -> None:
        for tracker in list(self.active):
            self._call(tracker, "log_artifacts", [p for p in paths if p.is_file()])

    def set_tags(self, tags: dict[str, str]) -> None:
        for tracker in list(self.active):
            self._call(tracker, "set_tags", tags)

    def finish(self, status: str = "FINISHED") -> None:
        """End the tracker runs (FINISHED, FAILED or KILLED, as MLflow names them); a second call does nothing."""
        if not self.done:
            self.done = True
            for tracker in list(self.active):
                self._call(tracker, "finish", status)
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1), encoding="utf-8")
        tmp.replace(self.path)  # a kill mid-write leaves the previous state, never half a file


def _read_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def reopen(run_dir: Path, cfg: Any, names: list[str] | None = None) -> Trackers:
    """The trackers of a run folder, continuing the tracker runs kept in its trackers.json (eval, report)."""
    names = list(cfg.train.report_to) if names is None else names
    kept = _read_state(run_dir / STATE)
    last = max((entry.get("last_step", 0) for entry in kept.values()), default=0)
    return Trackers(names, run_dir, cfg, max(last, 0) if kept else None)


def log_eval(cfg: Any, result: dict[str, Any]) -> None:
    """`lmforge eval`'s base and fine-tuned metrics (eval/<side>/<metric>) and eval.json, to the run's trackers."""
    run_dir = Path(cfg.train.output_dir)
    require(list(cfg.train.report_to))
    trackers = reopen(run_dir, cfg)
    for side in ("base", "finetuned"):
        trackers.log_metrics({f"eval/{side}/{k}": v for k, v in result.get(side, {}).items()}, None)
    trackers.log_artifacts([run_dir / "eval.json", run_dir / "samples.jsonl"])
    trackers.finish()


def log_report(cfg: Any, report: Path | None) -> None:
    """report.html (written after train and eval) as an artifact of the run's MLflow / W&B runs."""
    names = [n for n in cfg.train.report_to if n != "tensorboard"]
    if report is None or not names or not (Path(cfg.train.output_dir) / STATE).is_file():
        return
    trackers = reopen(Path(cfg.train.output_dir), cfg, names)
    trackers.log_artifacts([Path(report)])
    trackers.finish()


@contextmanager
def study_tracking(cfg: Any, tune_dir: Path) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A parent run for a tune study; trials started inside become its child runs (W&B: one group).

    Yields `best(result)`: the best value and parameters on the parent, tag best=true on the best trial.
    """
    names = [n for n in cfg.train.report_to if n != "tensorboard"]
    require(names)
    if not names:
        yield lambda result: None
        return
    token = STUDY.set({"parent": True})
    try:
        parent = Trackers(names, tune_dir, cfg, resume=0 if (tune_dir / STATE).is_file() else None)
    finally:
        STUDY.reset(token)
    token = STUDY.set({t.name: t.state for t in parent.active})
    ok = False

    def best(result: dict[str, Any]) -> None:
        parent.log_metrics({"best_value": result["best_value"], "best_trial": result["best_trial"]}, None)
        params = {f"best.{k}": str(v) for k, v in result["best_params"].items()}
        parent.set_tags({"best_trial": str(result["best_trial"]), **params})
        parent.log_artifacts([tune_dir / "best.yaml", tune_dir / "trials.yaml"])
        trial_dir = tune_dir / f"trial-{result['best_trial']}"
        if (trial_dir / STATE).is_file():
            trial = reopen(trial_dir, cfg, names)
            trial.set_tags({"best": "true"})
            trial.finish()

    try:
        yield best
        ok = True
    finally:
        STUDY.reset(token)
        parent.finish("FINISHED" if ok else "FAILED")
