"""`lmforge tune`: hyper-parameter search with Optuna, each trial a normal training run.

The study lives in `train.output_dir/tune/study.db` (SQLite), so `lmforge tune` after a kill continues it:
finished trials are kept, a trial that was running when the process died is marked failed and its
parameters are tried again. Trials report the val loss at each evaluation to the pruner.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

from lmforge.atomic_files import atomic_write_text
from lmforge.config import ExperimentConfig, apply_overrides, describe_validation_error
from lmforge.errors import UserError
from lmforge.training.trackers import study_tracking

DISTRIBUTIONS = ("log_uniform", "uniform", "int", "log_int", "choice")


def suggest(trial: Any, key: str, spec: dict[str, Any]) -> Any:
    """One value for a dotted key: {log_uniform: [1e-5, 1e-3]} -> trial.suggest_float(key, 1e-5, 1e-3, log=True)."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise UserError(
            f"tune.space.{key}: expected one of {', '.join(DISTRIBUTIONS)} (e.g. {{uniform: [0, 0.1]}})"
        )
    kind, args = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise UserError(f"tune.space.{key}.choice: expected a non-empty list")
        return trial.suggest_categorical(key, args)
    if not isinstance(args, list) or len(args) != 2:
        raise UserError(f"tune.space.{key}.{kind}: expected [low, high]")
    low, high = args
    if kind in ("int", "log_int"):
        return trial.suggest_int(key, int(low), int(high), log=kind == "log_int")
    return trial.suggest_float(key, float(low), float(high), log=kind == "log_uniform")


def trial_config(cfg: ExperimentConfig, params: dict[str, Any], output_dir: str) -> ExperimentConfig:
    """The experiment with the trial's parameters set and its own output folder; validated like a YAML."""
    from pydantic import ValidationError

    raw = apply_overrides(copy.deepcopy(cfg.to_dict()), [f"{k}={_yaml_scalar(v)}" for k, v in params.items()])
    raw["train"]["output_dir"] = output_dir
    try:
        new = ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(
            describe_validation_error(e, ExperimentConfig).replace("config error", "tune.space")
        ) from None
    new._base_dir = cfg.base_dir
    return new


def _yaml_scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def tune(cfg: ExperimentConfig) -> dict[str, Any]:
    """Run (or continue) the study; write best.yaml and plots; return {"best_params", "best_value", "trials"}.

    >>> lmforge.tune(lmforge.load_config("exp.yaml"))["best_params"]  # doctest: +SKIP
    {'train.lr': 0.00031}
    """
    import optuna

    if not cfg.tune.space:
        raise UserError(
            "tune.space is empty: map dotted config keys to distributions, e.g. train.lr: {log_uniform: [1e-5, 1e-3]}"
        )
    check_metric(cfg)
    out = Path(cfg.train.output_dir) / "tune"
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=cfg.name,
        storage=f"sqlite:///{out / 'study.db'}",
        load_if_exists=True,
        direction=cfg.tune.direction,
        sampler=_sampler(cfg),
        pruner=_pruner(cfg),
    )
    _retry_interrupted(study)
    done = sum(t.state.is_finished() and t.state.name != "FAIL" for t in study.trials)
    remaining = cfg.tune.n_trials - done
    with study_tracking(cfg, out) as log_best:  # MLflow / W&B: one parent run, the trials its children
        if remaining > 0:
            study.optimize(
                lambda trial: objective(trial, cfg, out),
                n_trials=remaining,
                timeout=cfg.tune.timeout,
                catch=(FloatingPointError,),
            )
        result = finish(study, cfg, out)
        log_best(result)
    return result


def check_metric(cfg: ExperimentConfig) -> None:
    """The pruner sees val loss at each evaluation; it must not judge a study that optimises something else.

    With `tune.metric: accuracy, direction: maximize` a pruner fed val loss would stop the trials whose
    accuracy is best; such a study runs without pruning (`tune.pruner: none`), each trial to its end.
    """
    t = cfg.tune
    if t.metric == "val_loss" and t.direction != "minimize":
        raise UserError("tune.metric val_loss is minimised: set tune.direction: minimize")
    if t.metric != "val_loss" and t.pruner != "none":
        raise UserError(
            f"tune.pruner {t.pruner} judges trials on val loss, not on tune.metric {t.metric}: "
            "set tune.pruner: none (every trial runs to its end), or tune.metric: val_loss"
        )


def objective(trial: Any, cfg: ExperimentConfig, out: Path) -> float:
    """Train one trial in tune/trial-N and return its metric; pruned when its val loss lags the others."""
    import optuna

    from lmforge.errors import RunFailed
    from lmforge.training.run import train

    params = {key: suggest(trial, key, spec) for key, spec in cfg.tune.space.items()}
    folder = out / f"trial-{trial.number}"
    shutil.rmtree(folder, ignore_errors=True)
    trial_cfg = trial_config(cfg, params, str(folder))

    def report(run: Any, row: dict[str, Any]) -> None:
        if "val_loss" in row:
            trial.report(row["val_loss"], row["step"])
            if trial.should_prune():
                raise optuna.TrialPruned(f"val loss {row['val_loss']:.4g} at step {row['step']}")

    try:
        metrics = train(trial_cfg, callbacks=[report])
    except RunFailed as e:  # a NaN loss from an absurd learning rate: the worst possible result, not a crash
        trial.set_user_attr("failed", str(e))
        raise optuna.TrialPruned(str(e)) from None
    return metric_value(cfg, trial_cfg, metrics)


def metric_value(cfg: ExperimentConfig, trial_cfg: ExperimentConfig, metrics: dict[str, Any]) -> float:
    """val_loss (best of the run) by default; any other name is read from an eval of the val split."""
    if cfg.tune.metric == "val_loss":
        value = metrics.get("best_val_loss") or metrics.get("val_loss")
        if value is None:
            raise UserError("tune.metric val_loss needs a val split (data.split.val > 0)")
        return float(value)
    from lmforge.evaluation.compare import evaluate

    result = evaluate(trial_cfg, split="val", compare=False)["finetuned"]
    if cfg.tune.metric not in result:
        raise UserError(f"tune.metric '{cfg.tune.metric}' is not a metric of this task ({', '.join(result)})")
    return float(result[cfg.tune.metric])


def finish(study: Any, cfg: ExperimentConfig, out: Path) -> dict[str, Any]:
    """Trials table, best.yaml (the full config with the best parameters) and the plots."""
    rows = [{"number": t.number, "state": t.state.name, "value": t.value, **t.params} for t in study.trials]
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not complete:
        raise UserError(f"no trial completed (see {out}); widen tune.space or raise tune.n_trials")
    best = study.best_trial
    best_cfg = trial_config(cfg, best.params, cfg.train.output_dir)
    atomic_write_text(out / "best.yaml", yaml.safe_dump(best_cfg.to_dict(), sort_keys=False))
    atomic_write_text(out / "trials.yaml", yaml.safe_dump(rows, sort_keys=False))
    plots = save_plots(study, out)
    return {
        "best_params": best.params,
        "best_value": best.value,
        "best_trial": best.number,
        "trials": rows,
        "plots": plots,
    }


def save_plots(study: Any, out: Path) -> list[str]:
    """Optuna's matplotlib optimisation history and parameter importances, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    written = []
    for name, plot in (
        ("history", ovm.plot_optimization_history),
        ("importances", ovm.plot_param_importances),
    ):
        try:
            ax = plot(study)
        except (ValueError, RuntimeError):  # importances need >= 2 complete trials with varied params
            continue
        path = out / f"{name}.png"
        ax.figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
        written.append(str(path))
    return written


def _retry_interrupted(study: Any) -> None:
    """A trial left RUNNING by a killed process is marked failed, and its parameters are queued again."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params, skip_if_exists=False)


def _sampler(cfg: ExperimentConfig) -> Any:
    import optuna

    if cfg.tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=cfg.seed)
    return optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=min(10, max(2, cfg.tune.n_trials // 2)))


def _pruner(cfg: ExperimentConfig) -> Any:
    import optuna

    if cfg.tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if cfg.tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    return optuna.pruners.NopPruner()
