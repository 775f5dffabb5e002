"""Read what a run left on disk, tolerating absent files, absent keys and malformed lines.

The report is written at the end of `prepare`, `train` and `eval`, so any subset of the files may be
there: a data folder alone (stats.json, rejects.jsonl, manifest.json), a train folder without eval,
or a crashed run with half a metrics.jsonl. Nothing here raises on bad content; it notes it instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_SAMPLES = 20  # generations shown side by side; more only lengthens the page
MAX_REJECT_LINES = 200_000  # rejects.jsonl can be huge: examples come from its head
MAX_LABEL_LINES = 1_000_000  # per split when counting labels that stats.json does not hold


@dataclass
class RunData:
    """Everything the report can show; None or empty where the run did not produce it."""

    run_dir: Path
    data_dir: Path | None = None
    stats: dict[str, Any] | None = None
    reject_examples: dict[str, dict[str, Any]] = field(default_factory=dict)  # "step: reason" -> record
    label_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> records
    metrics: list[dict[str, Any]] = field(default_factory=list)
    eval: dict[str, Any] | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    config_text: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None
    model_info: dict[str, Any] | None = None  # final/lmforge.json
    notes: list[str] = field(default_factory=list)  # problems met while reading, shown on the page

    def has_anything(self) -> bool:
        return any([self.stats, self.metrics, self.eval, self.samples, self.config_text, self.manifest])


def read_json(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """A JSON object from `path`, or None (with a note) when absent, unreadable or not an object."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as e:
        notes.append(f"{path.name}: not valid JSON ({e})")
        return None
    if not isinstance(value, dict):
        notes.append(f"{path.name}: expected a JSON object, got {type(value).__name__}")
        return None
    return value


def read_jsonl(path: Path, notes: list[str], limit: int | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file; malformed lines are skipped and counted in a note.

    A run killed mid-write leaves a truncated last line: that must not cost the whole report.
    """
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    if bad:
        notes.append(f"{path.name}: {bad} malformed line(s) skipped")
    return rows


def number(value: Any) -> float | None:
    """`value` as a float, or None when it is not a number (NaN stays NaN: a diverged loss is news).

    >>> number("3"), number(None), number(True)
    (None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def clean_metrics(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with a numeric `step`, sorted by step; rows of the same step are merged, later keys winning
    (a null, a value not measured, wins over nothing).

    A val row may share its step with a train row, and a resumed run may log a step again.
    >>> clean_metrics([{"step": 2, "loss": 1}, {"step": 1, "loss": 3}, {"step": 2, "loss": None, "val_loss": 0.5}])
    [{'step': 1, 'loss': 3}, {'step': 2, 'loss': 1, 'val_loss': 0.5}]
    """
    by_step: dict[float, dict[str, Any]] = {}
    for row in rows:
        step = number(row.get("step"))
        if step is None or math.isnan(step):
            continue
        prev = by_step.get(step, {})
        by_step[step] = {**prev, **{k: v for k, v in row.items() if v is not None or k not in prev}}
    return [by_step[s] for s in sorted(by_step)]


def find_data_dir(run_dir: Path, config: dict[str, Any]) -> Path | None:
    """Where stats.json lives: the run folder itself, the config's data.output_dir, or `<run>/data`."""
    candidates = [run_dir]
    out = _section(config, "data").get("output_dir")
    if isinstance(out, str) and out:
        p = Path(out).expanduser()
        # output folders in the YAML are relative to the working directory of the run: that is the
        # current one, or the folder that RUN_DIR sits in as train.output_dir (a report run from elsewhere)
        candidates += [p] if p.is_absolute() else [Path.cwd() / p, _run_cwd(run_dir, config) / p]
    candidates.append(run_dir / "data")
    for c in candidates:
        if (c / "stats.json").is_file() or (c / "manifest.json").is_file():
            return c
    return None


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name)
    return value if isinstance(value, dict) else {}


def _run_cwd(run_dir: Path, config: dict[str, Any]) -> Path:
    """`/x/runs/a` with train.output_dir `runs/a` -> `/x`: the working directory the run had."""
    parts = Path(str(_section(config, "train").get("output_dir") or "")).parts
    here = run_dir.resolve()
    if parts and not Path(*parts).is_absolute() and here.parts[-len(parts) :] == parts:
        return here.parents[len(parts) - 1]
    return here.parent


def reject_examples(path: Path, notes: list[str]) -> dict[str, dict[str, Any]]:
    """The first rejected record for each (step, reason kind), to show what a reason looks like.

    The kind is the reason without its details, as prepare counts it in stats.json:
    `exact duplicate of a.jsonl:3` -> `exact duplicate`.
    """
    from lmforge.data.stats import reason_key

    examples: dict[str, dict[str, Any]] = {}
    for row in read_jsonl(path, notes, limit=MAX_REJECT_LINES):
        key = f"{row.get('step', '?')}: {reason_key(str(row.get('reason', '?')))}"
        examples.setdefault(key, row)
    return examples


def count_labels(data_dir: Path, notes: list[str]) -> dict[str, dict[str, int]]:
    """{split: {label: records}} from the split files of a classification dataset; {} for other tasks.

    A split whose first record has no `label` is not read further (not a classification dataset).
    """
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "val", "test"):
        path = data_dir / f"{split}.jsonl"
        if not path.is_file():
            continue
        labels: dict[str, int] = {}
        with path.open(encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if i >= MAX_LABEL_LINES:
                    notes.append(f"{path.name}: labels counted over the first {MAX_LABEL_LINES:,} records")
                    break
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(row, dict) or "label" not in row:
                    if i == 0:
                        break
                    continue
                labels[str(row["label"])] = labels.get(str(row["label"]), 0) + 1
        if labels:
            counts[split] = labels
    return counts


def load_run(run_dir: str | Path) -> RunData:
    """Gather the files of a run folder (train or data output folder).

    >>> load_run("runs/demo").metrics[:1]  # doctest: +SKIP
    [{'step': 10, 'epoch': 0.1, 'loss': 2.31, 'lr': 0.0002, ...}]
    """
    run_dir = Path(run_dir)
    data = RunData(run_dir=run_dir)
    notes = data.notes
    config_path = run_dir / "config.yaml"
    if config_path.is_file():
        data.config_text = config_path.read_text(encoding="utf-8", errors="replace")
        try:
            loaded = yaml.safe_load(data.config_text)
            data.config = loaded if isinstance(loaded, dict) else {}
        except yaml.YAMLError:
            notes.append("config.yaml: not valid YAML (shown as text)")
    data.model_info = read_json(run_dir / "final" / "lmforge.json", notes)
    _config_fallback(data, data.model_info)
    data.data_dir = find_data_dir(run_dir, data.config)
    if data.data_dir is not None:
        data.stats = read_json(data.data_dir / "stats.json", notes)
        data.manifest = read_json(data.data_dir / "manifest.json", notes)
        data.reject_examples = reject_examples(data.data_dir / "rejects.jsonl", notes)
        if not (data.stats or {}).get("labels"):
            data.label_counts = count_labels(data.data_dir, notes)
        _config_fallback(data, data.manifest)
    data.metrics = clean_metrics(read_jsonl(run_dir / "metrics.jsonl", notes))
    data.eval = read_json(run_dir / "eval.json", notes)
    data.samples = read_jsonl(run_dir / "samples.jsonl", notes)[:MAX_SAMPLES]
    return data


def _config_fallback(data: RunData, source: dict[str, Any] | None) -> None:
    """Without config.yaml, show the config that final/lmforge.json or manifest.json recorded."""
    if data.config_text is None and source and isinstance(source.get("config"), dict):
        data.config = source["config"]
        data.config_text = yaml.safe_dump(data.config, sort_keys=False)
