"""`lmforge predict`: batch predictions, jsonl in, jsonl out; bad lines are reported, never fatal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lmforge.config import ExperimentConfig
from lmforge.errors import UserError

CHUNK = 64  # records per model call group: bounded memory for any input size


def predict(cfg: ExperimentConfig, input_path: str, output_path: str, model_dir: str | None = None) -> dict:
    """Write each good input record with its `prediction` (and `probabilities` for classification).

    Each record's prompt is built once: the build that checks the record is the prompt generation gets.
    causal_lm continues the whole `text` (eval continues its first half, to score against the second).
    Returns {"written": n, "bad": [(line, reason), ...]}.
    >>> lmforge.predict(cfg, "new.jsonl", "pred.jsonl")["written"]  # doctest: +SKIP
    120
    """
    from tqdm import tqdm

    from lmforge.evaluation.compare import load_base, load_trained
    from lmforge.formatting.token_cache import make_task

    src = Path(input_path)
    if not src.is_file():
        raise UserError(f"input file not found: {src}")
    task = make_task(cfg)
    if model_dir is not None and model_dir == cfg.model.name and not Path(model_dir).exists():
        model, tokenizer = load_base(cfg, task)  # the base model, asked for by name
    else:
        tuned = Path(model_dir) if model_dir else Path(cfg.train.output_dir) / "final"
        if not tuned.exists():
            hint = "--model" if model_dir else "train.output_dir: train first, or pass --model"
            raise UserError(
                f"no model at {tuned} ({hint} {cfg.model.name} to predict with the base model on purpose)"
            )
        model, tokenizer = load_trained(tuned, cfg, task)
    bad: list[tuple[int, str]] = []
    written = 0
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    with (
        src.open(encoding="utf-8", errors="replace") as fin,
        open(output_path, "w", encoding="utf-8") as fout,
    ):
        chunk: list[tuple[dict, Any]] = []  # (record, its prompt)
        for lineno, line in enumerate(tqdm(fin, desc="predict", unit=" lines", file=sys.stderr), 1):
            parsed = _parse(line, lineno, task, bad)
            if parsed is not None:
                chunk.append(parsed)
            if len(chunk) == CHUNK:
                written += _flush(cfg, task, model, tokenizer, chunk, fout, bad)
                chunk = []
        written += _flush(cfg, task, model, tokenizer, chunk, fout, bad)
    return {"written": written, "bad": bad}


def _parse(line: str, lineno: int, task: Any, bad: list) -> tuple[dict, Any] | None:
    """(record, prompt) for a record the task can read, or None with the reason appended to `bad`.

    The prompt is the text to continue (causal_lm) or the messages up to the answer (chat tasks).
    """
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        bad.append((lineno, f"not valid JSON ({e.msg})"))
        return None
    if not isinstance(record, dict):
        bad.append((lineno, "not a JSON object"))
        return None
    try:
        prompt = (
            str(record["text"])
            if task.name == "causal_lm"
            else task.prompt_messages(with_target(task, record))
        )
    except (UserError, KeyError) as e:
        bad.append((lineno, str(e) if isinstance(e, UserError) else f"no field {e}"))
        return None
    return record, prompt


def with_target(task: Any, record: dict) -> dict:
    """The answer is what we predict, so a record may leave it out; an empty one keeps the task's reader happy."""
    if task.name == "sft":
        fields = ["output"] if "instruction" in record else [] if "messages" in record else ["response"]
    else:
        fields = [] if task.name in ("causal_lm", "classification") else [task.target_field]
    return {**record, **{k: "" for k in fields if k not in record}}


def _flush(
    cfg: ExperimentConfig, task: Any, model: Any, tokenizer: Any, chunk: list, fout: Any, bad: list
) -> int:
    from lmforge.evaluation.compare import classifier_probs, generate_prompts, label_probs

    if not chunk:
        return 0
    records = [r for r, _ in chunk]
    if task.name == "classification":  # scored per label by the task's own encoding, not generated
        labels = task.label_set()
        scorer = classifier_probs if cfg.task.head == "classifier" else label_probs
        rows = [
            {**r, "label": labels[0]} for r in records
        ]  # the label is not in the prompt; scoring fills each in
        probs = scorer(cfg, task, model, tokenizer, rows)
        for record, p in zip(records, probs.tolist(), strict=True):
            best = max(range(len(labels)), key=p.__getitem__)
            out = {**record, "prediction": labels[best], "probabilities": dict(zip(labels, p, strict=True))}
            fout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return len(records)
    prompts = [prompt for _, prompt in chunk]
    gens = generate_prompts(cfg, model, tokenizer, prompts, raw=task.name == "causal_lm")
    for record, gen in zip(records, gens, strict=True):
        fout.write(
            json.dumps({**record, "prediction": gen.text, "finished": gen.finished}, ensure_ascii=False)
            + "\n"
        )
    return len(records)
