"""The trackers themselves: the interface, TensorBoard, MLflow and Weights & Biases (trackers.py: the fan-out).

MLflow: a SQLite store in `train.output_dir/mlflow/` unless MLFLOW_TRACKING_URI names one; tune trials are
child runs (tag mlflow.parentRunId) of the study's run. W&B: offline under `train.output_dir/wandb/`
unless the user is logged in (WANDB_API_KEY or a netrc entry) or set WANDB_MODE; it never prompts.
"""

from __future__ import annotations

import contextvars
import json
import logging
import netrc
import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The tune study's runs, seen by its trials' trackers: {"parent": True} while the study's own runs start,
# then {"mlflow": {tracking_uri, experiment_id, run_id}, "wandb": {dir, group, ...}}.
STUDY: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("lmforge_study", default=None)


def warn(message: str) -> None:
    print(f"lmforge: warning: {message}", file=sys.stderr)


class Tracker:
    """One backend. `state` is its entry of trackers.json (run ids), filled by `start`."""

    name = ""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def start(self, run_dir: Path, cfg: Any, resume: int | None) -> int | None:
        """Open (or, with `resume` and a kept run id, continue) the run; the last step it already holds."""
        raise NotImplementedError

    def log_params(self, params: dict[str, Any]) -> None:
        """The flattened config (once, when the tracker run is created)."""

    def log_metrics(self, row: dict[str, float], step: int | None) -> None:
        """A metrics.jsonl row at `step`; step None = values of the whole run (funnel, final, eval)."""
        raise NotImplementedError

    def log_artifacts(self, paths: list[Path]) -> None:
        """Files of the run folder (config.yaml, eval.json, report.html)."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Labels of the run (the best trial of a study)."""

    def finish(self, status: str) -> None:
        """End the run: FINISHED, FAILED (the run raised) or KILLED (interrupted, or a pruned trial)."""
        raise NotImplementedError


class TensorBoardTracker(Tracker):
    """Scalars under tensorboard/ as train/<key> and val/<key>; on resume, steps after `resume` are purged."""

    name = "tensorboard"

    def start(self, run_dir: Path, cfg: Any, resume: int | None) -> int | None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=(resume or 0) + 1)
        return resume  # what the killed run logged after `resume` is purged, so those steps are logged again

    def log_metrics(self, row: dict[str, float], step: int | None) -> None:
        for key, value in row.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(_tb_name(key) if step is not None else key, value, step or 0)
        self.writer.flush()

    def finish(self, status: str) -> None:
        self.writer.close()


def _tb_name(key: str) -> str:
    return f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"


def run_name(run_dir: Path, cfg: Any) -> str:
    """The experiment's name; `<name>-tune` for a study's parent run, the folder (trial-3) for a trial."""
    study = STUDY.get()
    if study is None:
        return cfg.name
    return f"{cfg.name}-tune" if study.get("parent") else run_dir.name


def mlflow_uri(cfg: Any) -> str:
    """MLFLOW_TRACKING_URI, else a SQLite file in train.output_dir/mlflow (MLflow 3 refuses its folder store).

    A tune study's parent run is there too (its own folder is train.output_dir/tune), and its trials.
    """
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    store = (Path(cfg.train.output_dir) / "mlflow").resolve()
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def _key(name: str) -> str:
    """MLflow accepts letters, digits and _ - . space / : in names; anything else becomes _."""
    return re.sub(r"[^\w\-. /:]", "_", name)[:250]


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:6000]  # MLflow's limit on a parameter value


class MLflowTracker(Tracker):
    name = "mlflow"

    def start(self, run_dir: Path, cfg: Any, resume: int | None) -> int | None:
        from mlflow.tracking import MlflowClient

        for logger in ("mlflow", "alembic"):  # the store's table creation is logged at INFO
            logging.getLogger(logger).setLevel(logging.WARNING)
        s, study = self.state, (STUDY.get() or {}).get("mlflow")
        if resume is not None and s.get("run_id"):
            self.client, self.run_id = MlflowClient(tracking_uri=s["tracking_uri"]), s["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return s.get("last_step", -1)
        uri = study["tracking_uri"] if study else mlflow_uri(cfg)
        self.client = MlflowClient(tracking_uri=uri)
        experiment = study["experiment_id"] if study else self._experiment(cfg)
        tags = {"lmforge.run_dir": str(run_dir.resolve())}
        if study:
            tags["mlflow.parentRunId"] = study["run_id"]
        self.run_id = self.client.create_run(
            experiment, run_name=run_name(run_dir, cfg), tags=tags
        ).info.run_id
        s.update(tracking_uri=uri, experiment_id=experiment, run_id=self.run_id)
        return None

    def _experiment(self, cfg: Any) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", cfg.name)
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        # artifacts next to the local store; a tracking server chooses its own place
        local = (
            None
            if os.environ.get("MLFLOW_TRACKING_URI")
            else (Path(cfg.train.output_dir) / "mlflow" / "artifacts").resolve()
        )
        return self.client.create_experiment(name, artifact_location=local.as_uri() if local else None)

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(_key(k), _param(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, row: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(_key(k), v, now, step or 0) for k, v in row.items()]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i : i + 1000])

    def log_artifacts(self, paths: list[Path]) -> None:
        for path in paths:
            self.client.log_artifact(self.run_id, str(path))

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status)


_told_offline = False


def wandb_logged_in() -> bool:
    """An API key in the environment, an identity token file, or a netrc entry for the W&B host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(root: Path) -> dict[str, Any]:
    """WANDB_MODE when set (wandb reads it), online when logged in, else offline (said once per process)."""
    global _told_offline
    if os.environ.get("WANDB_MODE"):
        return {}
    if wandb_logged_in():
        return {"mode": "online", "init_timeout": 30.0}
    if not _told_offline:
        _told_offline = True
        folder = root / "wandb"
        print(
            f"lmforge: wandb is not logged in: logging offline to {folder} (upload: wandb sync {folder}/offline-run-*)"
        )
    return {"mode": "offline"}


class WandbTracker(Tracker):
    name = "wandb"

    def start(self, run_dir: Path, cfg: Any, resume: int | None) -> int | None:
        import wandb

        s, study = self.state, STUDY.get() or {}
        continued = resume is not None and "id" in s
        root = Path(s["dir"]) if continued else Path(study["wandb"]["dir"]) if "wandb" in study else run_dir
        group = s.get("group") or study.get("wandb", {}).get("group")
        if study.get("parent") and not group:
            group = f"{cfg.name}-tune-{uuid.uuid4().hex[:8]}"  # one study, not every study of this name
        args = {
            "project": s.get("project") or os.environ.get("WANDB_PROJECT") or cfg.name,
            "dir": str(root),
            "id": s.get("id") if continued else None,
            "resume": "allow" if continued else None,
            "name": run_name(run_dir, cfg),
            "group": group,
            "job_type": "study" if study.get("parent") else "trial" if study else "train",
        }
        # console off: the progress bar and the CLI's own lines stay as they are
        base = {"silent": True, "console": "off", "reinit": "create_new"}
        mode = wandb_mode(root)
        try:
            self.run = wandb.init(**args, settings=wandb.Settings(**base, **mode))
        except Exception as e:  # noqa: BLE001 - logged in but the server is unreachable: keep the run offline
            if mode.get("mode") != "online":
                raise
            warn(f"wandb: no connection ({type(e).__name__}: {e}); logging offline to {root / 'wandb'}")
            self.run = wandb.init(**args, settings=wandb.Settings(**base, mode="offline"))
        s.update(id=self.run.id, dir=str(root), project=self.run.project, group=group)
        if not continued:
            return None
        from lmforge.training.wandb_offline import last_step

        # not the step trackers.json says was logged: what a kill left on disk (wandb-core buffers writes)
        held = last_step(root, self.run.id, skip=Path(self.run.dir).parent)
        if self.run.resumed:  # online: the server knows where the run is
            held = max(-1 if held is None else held, int(self.run.starting_step) - 1)
        return held

    def log_params(self, params: dict[str, Any]) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, row: dict[str, float], step: int | None) -> None:
        if step is None:
            self.run.summary.update(row)
        else:
            self.run.log(row, step=step)

    def log_artifacts(self, paths: list[Path]) -> None:
        for path in paths:  # a copy in the run's files/ (saved from outside, wandb symlinks and warns)
            copy = Path(self.run.dir) / path.name
            shutil.copyfile(path, copy)
            self.run.save(str(copy), base_path=self.run.dir, policy="now")

    def set_tags(self, tags: dict[str, str]) -> None:
        extra = [key if value == "true" else f"{key}:{value}" for key, value in tags.items()]
        self.run.tags = tuple(self.run.tags or ()) + tuple(extra)

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "FINISHED" else 1)
