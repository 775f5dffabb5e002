"""Training sections: loss and val loss curves with the early-stopping point, learning rate, throughput."""

from __future__ import annotations

import math
from typing import Any

from lmforge.reporting import plots
from lmforge.reporting.load import number
from lmforge.reporting.sections import fmt


def series(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows that have a number under `key`.

    >>> series([{"step": 1, "loss": 2.0}, {"step": 2}, {"step": 3, "loss": 1.5}], "loss")
    ([1.0, 3.0], [2.0, 1.5])
    """
    xs, ys = [], []
    for row in rows:
        x, y = number(row.get("step")), number(row.get(key))
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def best_step(steps: list[float], val: list[float]) -> tuple[float, float] | None:
    """(step, val loss) of the lowest finite val loss: where early stopping keeps the `best/` model.

    >>> best_step([10, 20, 30], [2.0, 1.5, 1.7])
    (20, 1.5)
    """
    finite = [(v, s) for s, v in zip(steps, val, strict=True) if not math.isnan(v) and not math.isinf(v)]
    if not finite:
        return None
    v, s = min(finite)  # ties go to the earlier step: the first time the minimum was reached
    return s, v


def training(
    metrics: list[dict[str, Any]], model_info: dict[str, Any] | None, config: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Curves and a summary of the run; None when metrics.jsonl is absent or holds no numbers."""
    loss, val = series(metrics, "loss"), series(metrics, "val_loss")
    lr, tps = series(metrics, "lr"), series(metrics, "tokens_per_s")
    if not any(xs for xs, _ in (loss, val, lr, tps)):
        return None
    best = best_step(*val)
    info = model_info or {}
    if isinstance(info.get("metrics"), dict):  # final/lmforge.json keeps the run's summary under "metrics"
        info = {**info, **info["metrics"]}
    if number(info.get("best_step")) is not None:  # the trainer's own record wins over our argmin
        best = (number(info["best_step"]), number(info.get("best_val_loss")) or (best or (0, math.nan))[1])
    lines = {k: v for k, v in (("train loss", loss), ("val loss", val)) if v[0]}
    summary = [("last step", fmt(metrics[-1].get("step")))]
    if metrics[-1].get("epoch") is not None:
        summary.append(("epochs", fmt(metrics[-1].get("epoch"))))
    if loss[1]:
        summary.append(("final train loss", fmt(loss[1][-1])))
    if best:
        summary.append(("best val loss", f"{fmt(best[1])} at step {fmt(best[0])}"))
    tokens = [number(r.get("tokens")) for r in metrics if number(r.get("tokens")) is not None]
    if tokens:
        summary.append(("tokens", fmt(max(tokens))))
    if tps[1]:
        summary.append(("mean tokens/s", fmt(round(sum(tps[1]) / len(tps[1]), 1))))
    mem = [number(r.get("peak_mem_mb")) for r in metrics if number(r.get("peak_mem_mb")) is not None]
    if mem:
        summary.append(("peak memory", f"{fmt(round(max(mem)))} MB"))
    rewards = reward_series(metrics)  # train.objective: grpo
    if rewards:
        summary.append(("final reward", fmt(rewards["reward"][1][-1])))
    eps = series(metrics, "epsilon")  # train.privacy: the budget spent per logged step
    privacy = info.get("privacy") if isinstance(info.get("privacy"), dict) else None
    if privacy:
        summary.append(("privacy (DP-SGD)", privacy_line(privacy)))
    bad = next(((x, y) for x, y in zip(*loss, strict=True) if not math.isfinite(y)), None)
    return {
        "summary": summary,
        "diverged": f"The loss became {bad[1]} at step {fmt(bad[0])}." if bad else None,
        "stop_note": stop_note(metrics, best, info, config or {}),
        "loss_img": plots.curves(lines, "loss", best[0] if best else None) if lines else None,
        "lr_img": plots.curves({"learning rate": lr}, "learning rate") if lr[0] else None,
        "tps_img": plots.curves({"tokens/s": tps}, "tokens per second") if tps[0] else None,
        "eps_img": plots.curves({"epsilon": eps}, "epsilon spent") if eps[0] else None,
        "reward_img": plots.curves(rewards, "reward") if rewards else None,
    }


def reward_series(metrics: list[dict[str, Any]]) -> dict[str, tuple[list[float], list[float]]]:
    """The weighted reward of grpo steps and the first three functions' means (`rewards/<fn>/mean`; the
    plot has four colours), by step; {} for a run without rewards.

    >>> reward_series([{"step": 1, "reward": 0.5, "rewards/format/mean": 1.0}])
    {'reward': ([1.0], [0.5]), 'format': ([1.0], [1.0])}
    """
    out = {"reward": series(metrics, "reward")}
    if not out["reward"][0]:
        return {}
    names = dict.fromkeys(k for r in metrics for k in r if k.startswith("rewards/") and k.endswith("/mean"))
    for key in names:
        xs, ys = series(metrics, key)
        if xs and len(out) < 4:
            out[key[len("rewards/") : -len("/mean")]] = (xs, ys)
    return out


def privacy_line(p: dict[str, Any]) -> str:
    """The guarantee of a DP run in one line.

    >>> privacy_line({"epsilon": 7.99, "target_epsilon": 8, "delta": 1e-05, "noise_multiplier": 0.83})
    'epsilon 7.99 of 8, delta 1e-05 per privacy unit (noise multiplier 0.83)'
    """
    target = f" of {fmt(p['target_epsilon'])}" if p.get("target_epsilon") is not None else ""
    return (
        f"epsilon {fmt(p.get('epsilon'))}{target}, delta {p.get('delta')} per privacy unit "
        f"(noise multiplier {fmt(p.get('noise_multiplier'))})"
    )


def stop_note(
    metrics: list[dict[str, Any]],
    best: tuple[float, float] | None,
    info: dict[str, Any],
    config: dict[str, Any],
) -> str | None:
    """One sentence on where the run ended relative to its best step and its step budget."""
    last = number(metrics[-1].get("step")) if metrics else None
    if last is None or best is None:
        return None
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    max_steps = number(train.get("max_steps"))
    early = info.get("stopped_early")
    if early is None:  # not recorded: infer it from an unfinished step budget with early stopping on
        early = bool(train.get("early_stopping")) and max_steps is not None and last < max_steps
    if early:
        return f"Early stopping ended the run at step {fmt(last)}; the best model (best/) is from step {fmt(best[0])}."
    if last > best[0]:
        return f"The run went on to step {fmt(last)}; val loss was lowest at step {fmt(best[0])} (kept in best/)."
    return None
