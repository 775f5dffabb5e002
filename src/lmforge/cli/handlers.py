"""CLI handlers: parsed arguments in, one library call, what the user reads out; the exit code as an int.

Each handler imports its stage on call, so that one command does not load the others (and `--help` no torch).
A user error is a `UserError` raised from the library (cli/main.py prints it in one line, exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from lmforge.config import load_config
from lmforge.errors import RunFailed
from lmforge.training.trackers import log_report


def show_config(args: argparse.Namespace) -> int:
    """`lmforge config EXP.yaml [k=v ...]`: the full config as lmforge will run it."""
    import yaml

    print(yaml.safe_dump(load_config(args.config, args.overrides).to_dict(), sort_keys=False), end="")
    return 0


def prepare(args: argparse.Namespace) -> int:
    """`lmforge prepare EXP.yaml [k=v ...]`."""
    from lmforge.data.prepare import prepare as run_prepare
    from lmforge.reporting.render import write_report_safely

    cfg = load_config(args.config, args.overrides)
    run_prepare(cfg)
    write_report_safely(cfg.data.output_dir)
    return 0


def inspect(args: argparse.Namespace) -> int:
    """`lmforge inspect EXP.yaml [k=v ...]`: print the findings; exit 1 on a fatal one."""
    from lmforge.formatting.preflight import format_report
    from lmforge.formatting.preflight import inspect as run_inspect

    cfg = load_config(args.config, args.overrides)
    report = run_inspect(cfg, strict=False)
    # trained tokens in colour on a terminal (unless NO_COLOR, https://no-color.org), in [[ ]] otherwise
    print(format_report(report, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    if report["fatal"]:
        raise RunFailed("fatal: " + "; ".join(report["fatal"]))
    return 0


def train(args: argparse.Namespace) -> int:
    """`lmforge train EXP.yaml [k=v ...] [--resume]`."""
    from lmforge.reporting.render import write_report_safely
    from lmforge.training.run import train as run_train

    cfg = load_config(args.config, args.overrides)
    if cfg.train.num_processes > 1 and "LOCAL_RANK" not in os.environ:
        from lmforge.models import resolve_model
        from lmforge.training.run_checks import check_run

        check_run(cfg, args.resume)  # a user error is one line here, not a traceback from every rank
        resolve_model(cfg.model.name, cfg.model.trust_remote_code)
        return _launch(args, cfg.train.num_processes)
    metrics = run_train(cfg, resume=args.resume)
    if int(os.environ.get("RANK", 0)) != 0:
        return 0
    shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
    print(f"trained {metrics['steps']} steps -> {Path(cfg.train.output_dir) / 'final'} ({shown})")
    log_report(cfg, write_report_safely(cfg.train.output_dir))  # report.html to MLflow / W&B too
    return 0


def _launch(args: argparse.Namespace, n: int) -> int:
    """Re-run this command under torchrun with n processes (gloo on CPU, NCCL on GPUs)."""
    import subprocess

    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n}",
        "-m",
        "lmforge.cli",
        "train",
        args.config,
        *args.overrides,
        *(["--resume"] if args.resume else []),
    ]
    return subprocess.call(cmd)


def evaluate(args: argparse.Namespace) -> int:
    """`lmforge eval EXP.yaml [--model DIR] [--split val|test] [k=v ...]`: print base vs fine-tuned."""
    from lmforge.evaluation.compare import evaluate as run_evaluate
    from lmforge.reporting.render import write_report_safely

    cfg = load_config(args.config, args.overrides)
    out = run_evaluate(cfg, args.model, args.split)
    print(format_table(out))
    report = write_report_safely(cfg.train.output_dir)
    log_report(cfg, report)
    print(f"wrote {Path(cfg.train.output_dir) / 'eval.json'}" + (f" and {report}" if report else ""))
    from lmforge.evaluation.general import check_drop

    check_drop(out, cfg.eval.max_general_drop)  # eval.max_general_drop: exit 1 naming the metric
    return 0


def format_table(out: dict[str, Any]) -> str:
    """A plain table: metric | n (the records behind it) | base | fine-tuned | difference."""
    from lmforge.evaluation.metrics import records_behind

    lines = [
        f"{out['split']} split, {out['records']} records",
        f"{'metric':<22}{'n':>7}{'base':>12}{'finetuned':>12}{'diff':>12}",
    ]
    for key, base in out["base"].items():
        if key == "n" or key.startswith("n_"):  # shown in the n column
            continue
        tuned = out["finetuned"].get(key, float("nan"))
        n, n_base = records_behind(out, key), records_behind(out, key, "base")
        n = "" if n is None else n if n_base in (n, None) or not out["finetuned"] else f"{n_base}/{n}"
        lines.append(f"{key:<22}{n:>7}{base:>12.4f}{tuned:>12.4f}{tuned - base:>+12.4f}")
    if "epsilon" in out["finetuned"]:  # train.privacy: the budget the fine-tune spent (the base has none)
        lines.append(f"{'epsilon':<22}{'':>7}{'-':>12}{out['finetuned']['epsilon']:>12.4f}")
    from lmforge.evaluation.contamination import table_lines

    lines += table_lines(out)  # the records that overlap train.jsonl, and the metrics clean vs overlap
    return "\n".join(lines)


def verify(args: argparse.Namespace) -> int:
    """`lmforge verify RUN`: exit 0 when every hashed file is as recorded, else 1 with a line per change."""
    from lmforge.training.lineage import verify as run_verify

    problems, summary = run_verify(args.run_dir)
    for line in problems:
        print(line)
    if problems:
        raise RunFailed(f"{len(problems)} of the run's inputs changed since it was trained")
    print(summary)
    return 0


def predict(args: argparse.Namespace) -> int:
    """`lmforge predict EXP.yaml --input F --output G [--model DIR]`."""
    from lmforge.inference.prediction import predict as run_predict

    cfg = load_config(args.config, args.overrides)
    result = run_predict(cfg, args.input, args.output, args.model)
    for lineno, reason in result["bad"][:20]:
        print(f"{args.input}:{lineno}: skipped: {reason}", file=sys.stderr)
    if len(result["bad"]) > 20:
        print(f"... and {len(result['bad']) - 20} more bad lines", file=sys.stderr)
    print(f"wrote {result['written']} predictions to {args.output} ({len(result['bad'])} bad lines skipped)")
    return 0 if result["written"] or not result["bad"] else 1


def tune(args: argparse.Namespace) -> int:
    """`lmforge tune EXP.yaml [k=v ...]`: print the trials and where best.yaml is."""
    from lmforge.tuning import tune as run_tune

    cfg = load_config(args.config, args.overrides)
    result = run_tune(cfg)
    keys = list(cfg.tune.space)
    print(f"{'trial':<7}{'state':<10}{cfg.tune.metric:>12}  " + "  ".join(keys))
    for row in result["trials"]:
        value = f"{row['value']:.4g}" if row["value"] is not None else "-"
        params = "  ".join(_fmt(row.get(k)) for k in keys)
        print(f"{row['number']:<7}{row['state']:<10}{value:>12}  {params}")
    out = Path(cfg.train.output_dir) / "tune"
    print(
        f"best: trial {result['best_trial']} ({cfg.tune.metric} {result['best_value']:.4g}) -> {out / 'best.yaml'}"
    )
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def report(args: argparse.Namespace) -> int:
    """`lmforge report RUN_DIR [--out FILE]`."""
    from lmforge.reporting.render import write_report

    print(f"report written to {write_report(args.run_dir, args.out)}")
    return 0


def export(args: argparse.Namespace) -> int:
    """`lmforge export RUN_DIR --out DIR [--merge] [--format hf|gguf] [--quant f16|q8_0]`."""
    from lmforge.exporting.hf import export as run_export
    from lmforge.exporting.hf import model_dir

    path = run_export(args.run_dir, args.out, merge=args.merge, format=args.format, quant=args.quant)
    src = model_dir(Path(args.run_dir))
    if args.format == "gguf":
        from lmforge.exporting.gguf import describe

        print(f"exported {src} -> {path}/model.gguf ({args.quant or 'f16'}), {path}/Modelfile")
        print(describe(path))
        return 0
    print(f"exported {src} -> {path}" + (" (merged)" if args.merge else ""))
    return 0
