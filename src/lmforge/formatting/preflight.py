"""`lmforge inspect EXP.yaml`: pre-flight checks of the tokenised training data, before any GPU time.

Reports the token length distribution before and after train.max_seq_len (how many records it cuts
and by how much), truncation and drop rates, the share of tokens that carry loss, EOS in the labels,
the pad/eos set-up, exact train/val/test overlap, packing efficiency and one rendered example with its
trained tokens marked; for tool-calling data, tool use, the tool definitions' token cost and cuts, and a
tool-calling example (preflight_tools.py). Writes `train.output_dir/inspect.json`. Fatal findings (exit 1):
no token carries loss, EOS never in the labels, a train record equal to a test record. The rest warn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmforge.atomic_files import atomic_write_text
from lmforge.errors import RunFailed
from lmforge.formatting.trained_marks import (  # the rendered example's marks; re-exported
    COLOR_CLOSE,
    COLOR_OPEN,
    TRAINED_CLOSE,
    TRAINED_OPEN,
    example_spans,
    marked,
)


def inspect(cfg: Any, strict: bool = True) -> dict[str, Any]:
    """Check the data the model will see; returns the report (also written to inspect.json).

    With `strict`, a fatal finding raises RunFailed naming it in one line (after the report is written).
    >>> inspect(load_config("exp.yaml"))["loss_token_share"]  # doctest: +SKIP
    0.31
    """
    from lmforge.formatting.preflight_lengths import length_stats, lengths, lengths_before, over_max
    from lmforge.formatting.preflight_tools import tool_report
    from lmforge.formatting.templates import PrefixError
    from lmforge.formatting.token_cache import make_task, tokenize_split_info
    from lmforge.models import load_tokenizer

    tokenizer = load_tokenizer(cfg.model.name, cfg.model.trust_remote_code)
    report: dict[str, Any] = {"fatal": [], "warnings": [], "task": cfg.task.type, "model": cfg.model.name}
    report["chat_template"] = (
        "task.chat_template"
        if cfg.task.chat_template
        else "the tokenizer's own"
        if tokenizer.chat_template
        else "lmforge's fallback (the model has none)"
    )
    try:
        examples, stats = tokenize_split_info(cfg, "train", tokenizer)
    except PrefixError as e:
        report["fatal"].append(str(e))
        return _finish(cfg, report, strict)
    task = make_task(cfg)
    report["counts"] = {k: v for k, v in stats.items() if k not in ("split", "cached")}
    report.update(lengths(examples, cfg.train.max_seq_len))
    before = lengths_before(cfg, task, tokenizer, examples, stats)
    report["length_before"] = length_stats(before, max(cfg.train.max_seq_len, max(before, default=0)))
    report["over_max_seq_len"] = over_max(before, cfg.train.max_seq_len, cfg.task.truncate, cfg.task.type)
    report.update(truncation(stats, cfg.task.truncate, report["warnings"]))
    report["pad_eos"] = pad_eos(tokenizer, report["warnings"])
    if cfg.task.head == "classifier":
        report["label_counts"] = _label_counts(examples, task.labels or [])
    else:
        report.update(loss_checks(examples, tokenizer, report))
        report["packing"] = packing_report(examples, cfg.train)
        if examples:
            report["example_spans"] = example_spans(examples[0], tokenizer)
            report["example"] = marked(report["example_spans"])
        if tools := tool_report(cfg, task, tokenizer, report["warnings"]):
            report["tools"] = tools
    report["overlap"] = overlap(cfg, task, report)
    return _finish(cfg, report, strict)


def truncation(stats: dict[str, Any], policy: str, warnings: list[str]) -> dict[str, Any]:
    """Shares of records truncated, dropped for length, and dropped because nothing was left to learn."""
    records = max(1, stats["records"])
    rates = {
        "truncate_policy": policy,
        "truncated_rate": stats["truncated"] / records,
        "dropped_rate": stats["dropped"] / records,
        "no_loss_rate": stats["no_loss"] / records,
    }
    for key, what in (
        ("truncated_rate", "truncated"),
        ("dropped_rate", "dropped as too long"),
        ("no_loss_rate", "dropped: no trained token left after truncation"),
    ):
        if rates[key] > 0:
            warnings.append(f"{rates[key]:.1%} of train records {what} (train.max_seq_len / task.truncate)")
    return rates


def pad_eos(tokenizer: Any, warnings: list[str]) -> dict[str, Any]:
    """The pad/eos set-up and how padding is handled."""
    info = {
        "eos_token": tokenizer.eos_token,
        "eos_id": tokenizer.eos_token_id,
        "pad_token": tokenizer.pad_token,
        "pad_id": tokenizer.pad_token_id,
        "pad_equals_eos": tokenizer.pad_token_id is not None
        and tokenizer.pad_token_id == tokenizer.eos_token_id,
        "padding": "masked by position (attention mask and labels -100 on the padded tail), never by token id",
    }
    if tokenizer.pad_token_id is None:
        warnings.append("tokenizer has no pad token: batches are padded with the EOS id, masked by position")
    return info


def loss_checks(examples: list[dict], tokenizer: Any, report: dict[str, Any]) -> dict[str, Any]:
    """Share of tokens with loss, and EOS in the labels; the fatal ones go to report["fatal"]."""
    from lmforge.formatting.templates import eos_token_ids

    total = sum(len(e["labels"]) for e in examples)
    trained = sum(sum(1 for x in e["labels"] if x != -100) for e in examples)
    eos = eos_token_ids(tokenizer)
    with_eos = sum(1 for e in examples if eos.intersection(e["labels"]))
    if not examples and not report.get("counts", {}).get("records"):
        report["fatal"].append("the train split is empty: nothing to train on")
    elif trained == 0:
        report["fatal"].append(
            "no token carries loss: check task.train_on_prompt, the chat template and max_seq_len"
        )
    elif with_eos == 0:
        report["fatal"].append(
            f"EOS ({tokenizer.eos_token!r}) is never in the labels: the model would never learn to stop; "
            "the chat template must end each assistant turn with the EOS token"
        )
    elif with_eos < len(examples):
        report["warnings"].append(
            f"{1 - with_eos / len(examples):.1%} of train examples have no EOS in their labels"
        )
    return {
        "loss_token_share": trained / max(1, total),
        "tokens": total,
        "trained_tokens": trained,
        "eos_in_labels_share": with_eos / max(1, len(examples)),
    }


def packing_report(examples: list[dict], train_cfg: Any) -> dict[str, Any]:
    """Share of real tokens per slot: packed into max_seq_len bins, and padded batches without packing."""
    from lmforge.formatting.packing import pack, packing_efficiency

    size = train_cfg.batch_size
    lens = [len(e["input_ids"]) for e in examples]
    padded = sum(max(lens[i : i + size]) * len(lens[i : i + size]) for i in range(0, len(lens), size))
    bins = pack(examples, train_cfg.max_seq_len) if examples else []
    return {
        "enabled": train_cfg.packing,
        "bins": len(bins),
        "packed_efficiency": packing_efficiency(bins, train_cfg.max_seq_len) if bins else 0.0,
        "padded_efficiency": sum(lens) / max(1, padded),
    }


def overlap(cfg: Any, task: Any, report: dict[str, Any]) -> dict[str, int]:
    """Train records whose task fields equal a val or test record's exactly (id and meta ignored)."""
    from lmforge.formatting.token_cache import read_jsonl

    folder = Path(cfg.data.output_dir)
    train = {_key(r) for r in read_jsonl(folder / "train.jsonl")}
    found = {}
    for split in ("val", "test"):
        if (folder / f"{split}.jsonl").is_file():
            found[split] = sum(1 for r in read_jsonl(folder / f"{split}.jsonl") if _key(r) in train)
    if found.get("test"):
        report["fatal"].append(
            f"{found['test']} test record(s) equal a train record: test scores would be inflated"
        )
    if found.get("val"):
        report["warnings"].append(f"{found['val']} val record(s) equal a train record")
    return found


def _key(record: dict) -> str:
    return json.dumps({k: v for k, v in record.items() if k not in ("id", "meta")}, sort_keys=True)


def _label_counts(examples: list[dict], labels: list[str]) -> dict[str, int]:
    counts = {name: 0 for name in labels}
    for e in examples:
        counts[labels[e["label"]]] += 1
    return counts


def _finish(cfg: Any, report: dict[str, Any], strict: bool) -> dict[str, Any]:
    out = Path(cfg.train.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    report["path"] = str(out / "inspect.json")
    atomic_write_text(out / "inspect.json", json.dumps(report, indent=2, ensure_ascii=False))
    if strict and report["fatal"]:
        raise RunFailed("fatal: " + "; ".join(report["fatal"]))
    return report


def format_report(report: dict[str, Any], color: bool = False) -> str:
    """The findings as a few lines of text; `color` marks the trained tokens in colour instead of [[ ]]."""
    from lmforge.formatting.preflight_lengths import format_lengths
    from lmforge.formatting.preflight_tools import format_tools

    def mark(spans: list[list]) -> str:
        return marked(spans, color)

    how = f"{COLOR_OPEN}in colour{COLOR_CLOSE}" if color else f"in {TRAINED_OPEN} {TRAINED_CLOSE}"

    lines = [f"inspect: {report['task']} on {report['model']}"]
    if "counts" in report:
        c = report["counts"]
        lines.append(
            f"records {c['records']}  examples {c['examples']}  truncated {c['truncated']} "
            f"({c['truncated_tokens']} tokens cut)  dropped {c['dropped'] + c['no_loss']}"
        )
        lines += format_lengths(report)
        hist = report["length"]["histogram"]
        peak = max(hist["counts"]) or 1
        for lo, count in zip(hist["edges"], hist["counts"], strict=False):
            lines.append(f"  {lo:>6} {'#' * round(30 * count / peak)} {count}")
    if "loss_token_share" in report:
        lines.append(
            f"loss on {report['loss_token_share']:.1%} of tokens; EOS in labels of "
            f"{report['eos_in_labels_share']:.1%} of examples"
        )
        p = report["packing"]
        lines.append(
            f"packing {'on' if p['enabled'] else 'off'}: packed {p['packed_efficiency']:.1%} real tokens "
            f"in {p['bins']} bins; padded batches {p['padded_efficiency']:.1%}"
        )
    if "label_counts" in report:
        lines.append("labels  " + "  ".join(f"{k} {v}" for k, v in report["label_counts"].items()))
    if cfg_template := report.get("chat_template"):
        lines.append(f"chat template: {cfg_template}")
    if "pad_eos" in report:
        pe = report["pad_eos"]
        lines.append(
            f"eos {pe['eos_token']!r} ({pe['eos_id']})  pad {pe['pad_token']!r} ({pe['pad_id']})"
            + ("  pad == eos: padding masked by position" if pe["pad_equals_eos"] else "")
        )
    if "overlap" in report:
        lines.append(
            "overlap with train: " + (", ".join(f"{k} {v}" for k, v in report["overlap"].items()) or "-")
        )
    if "example" in report:
        shown = mark(report["example_spans"]) if "example_spans" in report else report["example"]
        lines += [f"example (trained tokens {how}):", shown]
    if "tools" in report:
        lines += format_tools(report["tools"], mark, report.get("example_spans"))
    lines += [f"warning: {w}" for w in report["warnings"]] + [f"FATAL: {f}" for f in report["fatal"]]
    lines.append(f"wrote {report['path']}")
    return "\n".join(lines)


__all__ = ["inspect"]
