"""`lmforge prepare EXP.yaml`: sources -> shards -> stages of steps -> split -> files, with every record
accounted for: read = kept + rejected, checked on the written files at the end of every run, before they
are published: the outputs are written into the work folder (`.work/out`), counted there, and only then
moved into data.output_dir, so a mismatch leaves the previous outputs in place."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from lmforge.atomic_files import atomic_write_text
from lmforge.config import ExperimentConfig, load_config
from lmforge.data.augment import augment_train
from lmforge.data.executor import plan_stages, run_stages
from lmforge.data.sources import detect_format, expand, plan_shards
from lmforge.data.split import sizes
from lmforge.data.stats import merge_histograms, merge_text_stats, merge_tool_counts, new_step_stats
from lmforge.data.steps import StepContext, build_steps, parse_spec
from lmforge.data.summary import funnel_warnings, print_summary, too_few_kept
from lmforge.data.worker import Job, stage_dir
from lmforge.data.writers import OUTPUTS, assemble, count_lines, publish
from lmforge.errors import RunFailed, UserError


def _rel(path: str, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def plan(cfg: ExperimentConfig) -> list[Any]:
    """All shards of all sources, in config order; a source that matches nothing is a UserError."""
    shards = []
    for si, src in enumerate(cfg.data.sources):
        path = cfg.resolve_input(src.path)
        files = expand(path)
        if not files:
            raise UserError(f"data.sources[{si}].path: no file matches {src.path} (looked in {path})")
        for f in files:
            shards += plan_shards(si, f, _rel(f, cfg.base_dir), detect_format(f, src.format), src.unit)
    return shards


def _fingerprint(cfg: ExperimentConfig, shards: list[Any]) -> str:
    """Changes when the inputs or the pipeline change; a stale work folder is then discarded."""
    from lmforge.version import __version__

    data = cfg.data.model_dump(mode="json", exclude={"workers", "executor", "ray", "output_dir", "min_kept"})
    files = sorted(
        {
            (s.path, os.path.getsize(s.path) if os.path.isfile(s.path) else 0, os.stat(s.path).st_mtime_ns)
            for s in shards
        }
    )
    code = _custom_code(cfg)  # a fixed custom function must not resume on shards its bug produced
    blob = json.dumps([data, cfg.task.type, cfg.seed, cfg.model.name, files, code, __version__], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _custom_code(cfg: ExperimentConfig) -> list[str]:
    """sha256 of each custom step's `.py` file (a module on the path is not hashed: it is installed code)."""
    out = []
    for spec in cfg.data.steps:
        name, opts = parse_spec(spec)
        module = str(opts.get("fn", "")).partition(":")[0]
        if name == "custom" and module.endswith(".py") and (cfg.base_dir / module).is_file():
            out.append(hashlib.sha256((cfg.base_dir / module).read_bytes()).hexdigest())
    return out


def prepare(
    cfg: ExperimentConfig | str | Path, overrides: list[str] | None = None, quiet: bool = False
) -> dict[str, Any]:
    """Run the data pipeline of an experiment; returns the stats (also in data.output_dir/stats.json).

    >>> stats = prepare("exp.yaml")          # doctest: +SKIP
    >>> stats["accounting"]["ok"]            # doctest: +SKIP
    True
    """
    if not isinstance(cfg, ExperimentConfig):
        cfg = load_config(cfg, overrides)
    data, t0 = cfg.data, time.perf_counter()
    if not data.sources:
        raise UserError("data.sources is empty: add at least one {path: ...}")
    run = run_stages
    if data.executor == "ray":  # the same jobs as Ray tasks: same files as a local run
        from lmforge.data.ray_executor import ray_run_stages

        run = ray_run_stages(data.ray)
    ctx = StepContext(
        base_dir=cfg.base_dir,
        model=cfg.model.name,
        seed=cfg.seed,
        task="sft" if data.pairs else cfg.task.type,  # data.pairs: SFT records, made pairs after the split
        conversation=cfg.task.conversation,
    )
    build_steps(data.steps, ctx)  # a custom step's file, a value a step refuses: fail before any work
    sizes(0, data.split.model_dump())  # so do split sizes that are neither ratios nor counts
    shards = plan(cfg)
    out_dir = Path(data.output_dir)
    work = out_dir / ".work"
    shutil.rmtree(out_dir / ".work.done", ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "errors.log").unlink(missing_ok=True)  # the tracebacks of steps that raise in this run
    fp = _fingerprint(cfg, shards)
    if (work / "fingerprint").exists() and (work / "fingerprint").read_text() != fp:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "fingerprint").write_text(fp)
    stages = plan_stages(data.steps)
    workers = max(1, min(data.workers or os.cpu_count() or 1, len(shards)))
    sources = [s.model_dump() for s in data.sources]
    stats_cfg = data.stats

    def jobs_for(k: int, specs: list[Any], prev: str | None, last: bool) -> list[Job]:
        return [
            Job(
                k,
                i,
                sh,
                sources[sh.source],
                str(work),
                specs,
                prev,
                last,
                ctx,
                data.split.stratify,
                stats_cfg.top_k,
                stats_cfg.window,
                pairs=data.pairs is not None,
            )
            for i, sh in enumerate(shards)
        ]

    global_stats = run(jobs_for, stages, str(work), workers, ctx, _progress(quiet))
    stage = work / "out"  # the outputs are written and checked here, then published into out_dir
    counts = assemble(
        str(work), len(stages), len(shards), data.split.model_dump(), data.split.stratify, stage
    )
    stats = _merge(str(work), stages, len(shards), global_stats, stats_cfg)
    stats["split"] = {k: counts[k] for k in ("train", "val", "test")}
    if data.pairs is not None:  # chosen = each record's answer, rejected = another's or the base model's
        stats["pairs"] = _make_pairs(cfg, stage, out_dir)
        stats["split"] = stats["pairs"]["split"]
        stats["steps"].append({k: stats["pairs"][k] for k in ("step", "in", "out", "time_s", "reasons")})
    failed = too_few_kept(stats, data.min_kept, out_dir)  # raised once the files are published
    # augmentations are extra train records, counted apart: read = kept + rejected covers the sources only
    aug = augment_train(cfg, stage, ctx) if data.augment and not failed else None
    stats["accounting"] = _check(stage, stats["read"], aug)
    if aug is not None:
        stats["augmented"] = aug
    stats["time_s"] = round(time.perf_counter() - t0, 3)
    stats["workers"] = workers
    stats["warnings"] = funnel_warnings(stats["steps"], out_dir)
    _write_json(stage / "stats.json", stats)
    ok = stats["accounting"]["ok"]
    if ok:  # a mismatch publishes nothing: the previous outputs stay as they were
        _write_json(stage / "manifest.json", _manifest(cfg, shards, stats, fp, stage))
        publish(stage, out_dir)
        trash = out_dir / ".work.done"
        os.replace(work, trash)  # one atomic step: a kill during the delete cannot leave half a work folder
        shutil.rmtree(trash)
    if not quiet:
        print_summary(stats, out_dir if ok else stage)
    if not ok:
        a = stats["accounting"]
        raise RunFailed(
            f"accounting mismatch: read {a['read']} != kept {a['kept']} + rejected {a['rejected']}; "
            f"nothing published ({out_dir} holds the previous outputs, this run's files are in {stage})"
        )
    if failed:
        raise RunFailed(failed)
    return stats


def _make_pairs(cfg: ExperimentConfig, stage: Path, out_dir: Path) -> dict[str, Any]:
    """data.pairs on the staged splits; its generation cache lives in out_dir/.pairs across runs, so it
    is moved into the stage for the call and back after."""
    from lmforge.data.pairs import make_pairs

    cache, staged = out_dir / ".pairs", stage / ".pairs"
    shutil.rmtree(staged, ignore_errors=True)
    if cache.is_dir():
        os.replace(cache, staged)
    try:
        return make_pairs(cfg, stage)
    finally:
        if staged.is_dir():
            os.replace(staged, cache)


def _check(out_dir: Path, read: int, aug: dict[str, Any] | None = None) -> dict[str, Any]:
    kept = sum(count_lines(out_dir / n) for n in OUTPUTS[:3]) - (aug["kept"] if aug else 0)
    rejected = count_lines(out_dir / "rejects.jsonl") - (aug["rejected"] if aug else 0)
    return {"read": read, "kept": kept, "rejected": rejected, "ok": read == kept + rejected}


def _merge(
    work: str, stages: list[list[Any]], n: int, global_stats: list[Any], stats_cfg: Any
) -> dict[str, Any]:
    """Sum the shards' counters into the stats.json layout: one funnel row per step, in config order."""
    per_stage = [
        [json.loads((stage_dir(work, k) / f"{i}.stats.json").read_text()) for i in range(n)]
        for k in range(len(stages))
    ]
    first = per_stage[0]
    read = sum(s["read"] for s in first)
    read_reasons: dict[str, int] = {}
    for s in first:
        for r, c in s["read_reasons"].items():
            read_reasons[r] = read_reasons.get(r, 0) + c
    funnel = [
        {
            "step": "read",
            "in": read,
            "out": read - sum(read_reasons.values()),
            "time_s": None,
            "reasons": read_reasons,
        }
    ]
    for k, specs in enumerate(stages):
        locals_ = specs[:-1] if global_stats[k] is not None else specs
        for j, spec in enumerate(locals_):
            row = {"step": parse_spec(spec)[0], **new_step_stats(), "errors": 0}
            row["reasons"], row["notes"] = {}, {}
            for s in per_stage[k]:
                st = s["steps"][j]
                row["in"] += st["in"]
                row["out"] += st["out"]
                row["changed"] += st["changed"]
                row["errors"] += st.get("errors", 0)
                row["time_s"] += st["time_s"]
                for r, c in st["reasons"].items():
                    row["reasons"][r] = row["reasons"].get(r, 0) + c
                for r, c in st.get("notes", {}).items():
                    row["notes"][r] = row["notes"].get(r, 0) + c
            row["time_s"] = round(row["time_s"], 3)
            funnel.append(row)
        if global_stats[k] is not None:
            g = dict(global_stats[k])
            g["time_s"] = round(g["time_s"] + sum(s.get("global_time_s", 0.0) for s in per_stage[k]), 3)
            funnel.append({"step": parse_spec(specs[-1])[0], **g})
    last = per_stage[-1]
    tools = merge_tool_counts([s.get("tools", {}) for s in last])  # None without tool-calling records
    return {
        "read": read,
        "encoding_repaired": sum(s["repaired"] for s in first),
        "steps": funnel,
        "length_chars_before": merge_histograms([s["hist_before"] for s in first]),
        "length_chars_after": merge_histograms([s["hist_after"] for s in last]),
        **merge_text_stats([p for s in last for p in _parts(s["text"])], stats_cfg.top_k, stats_cfg.window),
        **({"tools": tools} if tools else {}),
    }


def _parts(text: Any) -> list[Any]:
    """A shard's word-stats parts (a list; a work folder from before parts holds one dict)."""
    return text if isinstance(text, list) else [text]


def _manifest(
    cfg: ExperimentConfig, shards: list[Any], stats: dict[str, Any], fp: str, out_dir: Path
) -> dict[str, Any]:
    from lmforge.version import __version__

    files = {}
    for name in OUTPUTS:
        h = hashlib.sha256()
        with open(out_dir / name, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
        files[name] = {"records": count_lines(out_dir / name), "sha256": h.hexdigest()}
    inputs = sorted({(s.rel, os.path.getsize(s.path) if os.path.isfile(s.path) else None) for s in shards})
    return {
        "lmforge_version": __version__,
        "name": cfg.name,
        "task": cfg.task.type,
        "seed": cfg.seed,
        "fingerprint": fp,
        "inputs": [{"path": p, "bytes": b} for p, b in inputs],
        "steps": cfg.data.steps,
        "split": cfg.data.split.model_dump(),
        "files": files,
        "accounting": stats["accounting"],
    }


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False))


def _progress(quiet: bool) -> Any:
    from tqdm import tqdm

    return lambda desc, total: tqdm(total=total, desc=desc, unit="shard", disable=True if quiet else None)
