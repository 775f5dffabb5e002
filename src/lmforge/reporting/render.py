"""`lmforge report RUN_DIR`: gather the run's files, draw the plots, fill the Jinja2 template."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from lmforge.errors import UserError
from lmforge.reporting import eval_section, sections, train_section
from lmforge.reporting.environment import current_environment, recorded_environment
from lmforge.reporting.load import RunData, load_run
from lmforge.reporting.stats_format import normalise

TEMPLATE = "report.html.j2"


def build_context(run: RunData) -> dict[str, Any]:
    """All the template needs; each section is None when its data are absent (the template skips it)."""
    stats = normalise(run.stats)
    if run.label_counts:  # counted from the split files when stats.json has no label table
        stats = {**(stats or {}), "labels": run.label_counts}
    ctx: dict[str, Any] = {
        "title": str(
            run.config.get("name") or (run.manifest or {}).get("name") or run.run_dir.resolve().name
        ),
        "run_dir": str(run.run_dir),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "notes": run.notes,
        "funnel": sections.data_funnel(stats, run.reject_examples),
        "lengths": sections.lengths(stats),
        "words": sections.words(stats),
        "splits": sections.splits(stats),
        "tools": sections.tools(stats),
        "training": train_section.training(run.metrics, run.model_info, run.config),
        "eval": eval_section.eval_table(run.eval),
        "samples": eval_section.samples(run.samples),
        "config_text": run.config_text,
    }
    recorded = recorded_environment(run.model_info, run.eval, run.manifest, run.stats)
    ctx["environment"] = recorded or current_environment()
    ctx["environment_recorded"] = recorded is not None
    ctx["overview"] = overview(ctx)
    return ctx


def overview(ctx: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers shown first: data kept, losses, and the eval change."""
    cards = []
    if ctx["funnel"] and ctx["funnel"]["kept"]:
        cards.append(("records kept", f"{ctx['funnel']['kept']} of {ctx['funnel']['read']}"))
    if ctx["training"]:
        cards += [(k, v) for k, v in ctx["training"]["summary"] if k in ("final train loss", "best val loss")]
    if ctx["eval"]:
        row = next((r for r in ctx["eval"]["rows"] if r["diff"]), None)
        if row:
            cards.append((f"{row['metric']} base → fine-tuned", f"{row['base']} → {row['finetuned']}"))
    return cards


def render(ctx: dict[str, Any]) -> str:
    """The HTML page from the packaged template (autoescaped: run files are untrusted text)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lmforge.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE).render(**ctx)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write one self-contained `report.html` for a run folder and return its path.

    `run_dir` is a train output folder (metrics.jsonl, eval.json, samples.jsonl, config.yaml; its data
    folder is found through config.yaml or `<run_dir>/data`) or a data output folder (stats.json).
    >>> write_report("runs/support-bot")  # doctest: +SKIP
    PosixPath('runs/support-bot/report.html')
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder not found: {run_dir}")
    run = load_run(run_dir)
    if not run.has_anything():
        raise UserError(
            f"{run_dir} holds no run files (expected some of stats.json, metrics.jsonl, eval.json, "
            "samples.jsonl, config.yaml)"
        )
    html = render(build_context(run))
    path = Path(out) if out is not None else run_dir / "report.html"
    try:
        _write_atomic(path, html)
    except OSError as e:
        raise UserError(f"cannot write the report to {path}: {e.strerror or e}") from None
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write then rename: a browser or a second writer never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".html")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_report_safely(run_dir: str | Path) -> Path | None:
    """For the end of prepare/train/eval: write the report, or warn in one line and return None.

    The run's own outputs are already on disk; a report that cannot be drawn must not fail the run.
    >>> write_report_safely("runs/support-bot")  # doctest: +SKIP
    PosixPath('runs/support-bot/report.html')
    """
    try:
        return write_report(run_dir)
    except Exception as e:  # noqa: BLE001 - any failure here is reported, and the run still succeeds
        print(f"lmforge: warning: no report.html for {run_dir} ({type(e).__name__}: {e})", file=sys.stderr)
        return None
