"""`lmforge eval`: the task's metrics for the base and the fine-tuned model on the same records.

One forward pass per record and model gives the loss and the task's scores (scoring.py: the LM head
only where a token is scored; class_scores.py: label probabilities and the loss from the same pass);
generation metrics come from generating.py. Every model runs merged, in the precision training used,
under torch.inference_mode, on length-sorted batches cut by `eval.batch_tokens` (loading.py,
batching.py). Nothing of size records x sequence x vocabulary is ever built (transformers #12878, #26474).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import torch

from lmforge.config import ExperimentConfig
from lmforge.evaluation.batching import inference
from lmforge.evaluation.class_scores import classifier_scores, label_scores
from lmforge.evaluation.contamination import contamination, generation_subsets, label_subsets
from lmforge.evaluation.general import GeneralProbes
from lmforge.evaluation.generating import generate_for, generation_metrics, halves, reference
from lmforge.evaluation.loading import autocast_dtype, eval_inputs, load_base, load_trained, ready_for_eval
from lmforge.evaluation.metrics import classification_metrics
from lmforge.evaluation.tool_metrics import tool_scores
from lmforge.inference.generation import Generation, generate
from lmforge.models import pad_token_id
from lmforge.tasks import Task

SAMPLES_SHOWN = 8  # generations kept in samples.jsonl for the report
__all__ = ["evaluate", "score", "load_base", "load_trained", "label_probs", "classifier_probs"]


def evaluate(
    cfg: ExperimentConfig, model_dir: str | None = None, split: str | None = None, compare: bool = True
) -> dict[str, Any]:
    """Score base and fine-tuned on `split`; write eval.json and samples.jsonl; return the eval dict.

    `compare=False` scores the fine-tuned model alone (hyper-parameter trials); `base` is then empty.

    >>> lmforge.evaluate(cfg)["finetuned"]["loss"]  # doctest: +SKIP
    1.73
    """
    from lmforge.formatting.token_cache import make_task

    if cfg.task.type == "rl":  # judged by the run's reward functions, not a reference text
        from lmforge.evaluation.rl_scores import evaluate_rl

        return evaluate_rl(cfg, model_dir, split, compare)
    split, records, tuned_path = eval_inputs(cfg, model_dir, split)
    from lmforge.training.lineage import check_base

    check_base(cfg, tuned_path)  # a base whose weights differ from the recorded ones is refused, one line
    task = make_task(cfg)
    sample = _sample(len(records), cfg.eval.generate_n, cfg.seed)
    results = {"base": {"metrics": {}, "details": {}}}
    generations: dict[str, list[str]] = {"base": [""] * len(sample)}
    loaders = {"base": lambda: load_base(cfg, task), "finetuned": lambda: load_trained(tuned_path, cfg, task)}
    dtype = autocast_dtype(cfg)
    lm_head = compare and cfg.eval.general and cfg.task.head != "classifier"  # the probes score text
    probes = GeneralProbes(*_budget(cfg)) if lm_head else None  # general.py
    for side in ("base", "finetuned") if compare else ("finetuned",):
        model, tokenizer = loaders[side]()
        model = ready_for_eval(model, dtype, quantized=cfg.model.quantize is not None)
        with inference(next(model.parameters()).device.type, dtype):
            results[side], generations[side] = score(cfg, task, model, tokenizer, records, sample, split)
            if probes is not None:
                results[side]["metrics"].update(probes.score(model, tokenizer))
        del model
    from lmforge.training.privacy import trained_epsilon

    results["finetuned"]["metrics"].update(trained_epsilon(tuned_path))  # train.privacy's budget spent
    out = {
        "split": split,
        "records": len(records),
        "base": results["base"]["metrics"],
        "finetuned": results["finetuned"]["metrics"],
        "delta": _delta(results["base"]["metrics"], results["finetuned"]["metrics"]),
        "details": {side: r["details"] for side, r in results.items()},
        "model": str(tuned_path),
    }
    # the records that overlap train.jsonl and the metrics apart (not for a tune trial's one number)
    split_apart = contamination(cfg, split, records, results) if compare else None
    if split_apart:
        out["contamination"] = split_apart
    _write(Path(cfg.train.output_dir), out, task, records, sample, generations)
    from lmforge.training.trackers import log_eval

    log_eval(cfg, out)  # base and fine-tuned metrics + eval.json to the run's trackers (train.report_to)
    return out


def score(
    cfg: ExperimentConfig,
    task: Task,
    model: Any,
    tokenizer: Any,
    records: list[dict],
    sample: list[int],
    split: str,
) -> tuple[dict[str, Any], list[str]]:
    """The task's metrics of one model; returns ({"metrics", "details"}, texts shown for the sampled records).

    Generation metrics cover the `sample` records; `n` says how many when that is not the whole split.
    """
    if task.name == "classification":
        return classification_scores(cfg, task, model, tokenizer, records, sample)
    if task.name == "preference":  # chosen vs rejected log-probs, no generation (evaluation/preference.py)
        from lmforge.evaluation.preference import preference_scores

        return preference_scores(cfg, task, model, tokenizer, records), [""] * len(sample)
    per_example: list = []  # each example's log-probs, for the metrics of a subset (contamination.py)
    metrics = loss_metrics(cfg, model, tokenizer, split, per_example)
    picked = [records[i] for i in sample]
    gens = generate_for(cfg, task, model, tokenizer, picked) if picked else []
    subset = generation_subsets(cfg, task, tokenizer, records, sample, per_example, gens)
    if not picked:
        return {"metrics": metrics, "details": {}, "subset": subset}, []
    preds, refs = [g.text for g in gens], [reference(task, r) for r in picked]
    metrics.update(generation_metrics(cfg, task, preds, refs, gens, [r.get("answer") for r in picked]))
    if task.name == "sft":  # records that offer tools: the calls made (tool_metrics.py), each with its n
        metrics.update(tool_scores(task, tokenizer, picked, gens))
    if len(picked) != len(records):
        metrics["n"] = len(picked)
    return {"metrics": metrics, "details": {}, "subset": subset}, preds


def classification_scores(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict], sample: list[int]
) -> tuple[dict[str, Any], list[str]]:
    """Loss, accuracy, macro-F1, per-class precision/recall and the confusion matrix, from one pass."""
    labels = task.label_set()
    scorer = classifier_scores if cfg.task.head == "classifier" else label_scores
    probs, loss_sum, count = scorer(
        task, model, tokenizer, records, cfg.train.max_seq_len, pad_token_id(tokenizer), *_budget(cfg)
    )
    loss = loss_sum / count if count else float("nan")
    metrics = {"loss": loss}
    if cfg.task.head != "classifier":
        metrics["perplexity"] = math.exp(min(loss, 50.0))
    predicted = [labels[int(i)] for i in probs.argmax(dim=1)]
    flat, details = classification_metrics([str(r["label"]) for r in records], predicted, labels)
    metrics.update(flat)
    subset = label_subsets(cfg, task, records, probs, predicted)
    return {"metrics": metrics, "details": details, "subset": subset}, [predicted[i] for i in sample]


def loss_metrics(
    cfg: ExperimentConfig, model: Any, tokenizer: Any, split: str, per_example: list | None = None
) -> dict[str, float]:
    """Token-weighted loss and perplexity of the split's tokenised examples (the ones training reads);
    `per_example` gets each example's (log-prob sums, token counts)."""
    from lmforge.evaluation.scoring import example_unit, score_units
    from lmforge.formatting.token_cache import tokenize_split

    examples = tokenize_split(cfg, split, tokenizer, packed=False)
    units = [example_unit(e) for e in examples]
    scored = score_units(model, units, pad_token_id(tokenizer), *_budget(cfg), "loss")
    if per_example is not None:
        per_example.extend(scored)
    total, count = -sum(s[0] for s, _ in scored if s), sum(c[0] for _, c in scored if c)
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def label_probs(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict]
) -> torch.Tensor:
    """(N, C) probabilities from each label's log-likelihood as the assistant's answer (label + EOS)."""
    with torch.inference_mode():
        args = (cfg.train.max_seq_len, pad_token_id(tokenizer), *_budget(cfg))
        return label_scores(task, model, tokenizer, records, *args)[0]


def classifier_probs(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict]
) -> torch.Tensor:
    """(N, C) softmax of the sequence-classification head."""
    with torch.inference_mode():
        args = (cfg.train.max_seq_len, pad_token_id(tokenizer), *_budget(cfg))
        return classifier_scores(task, model, tokenizer, records, *args)[0]


def generate_prompts(
    cfg: ExperimentConfig, model: Any, tokenizer: Any, prompts: list, raw: bool = False
) -> list[Generation]:
    """Greedy generations with the `eval` settings for prompts already built (`raw`: no chat template)."""
    kwargs = {"max_new_tokens": cfg.eval.max_new_tokens, "batch_size": cfg.eval.batch_size or 8}
    return generate(model, tokenizer, prompts, raw=raw, **kwargs)


def _budget(cfg: ExperimentConfig) -> tuple[int, int | None]:
    return cfg.eval.batch_tokens, cfg.eval.batch_size


def _write(run_dir: Path, out: dict, task: Task, records: list[dict], sample: list[int], gens: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "eval.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    with (run_dir / "samples.jsonl").open("w", encoding="utf-8") as f:
        for j, i in enumerate(sample[:SAMPLES_SHOWN]):
            prompt = _prompt_text(task, records[i])
            row = {
                "prompt": prompt,
                "reference": reference(task, records[i])
                if task.name != "classification"
                else str(records[i]["label"]),
                "base": gens["base"][j],
                "finetuned": gens["finetuned"][j],
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _prompt_text(task: Task, record: dict) -> str:
    if task.name == "causal_lm":
        return halves(record["text"])[0]
    messages = task.prompt_messages(record)
    return "\n".join(m["content"] for m in messages if m["role"] != "system")


def _sample(n: int, k: int | None, seed: int) -> list[int]:
    """The same k record indices for both models (sorted, seeded); k None = all n."""
    if k is None or k >= n:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), k))


def _delta(base: dict[str, float], tuned: dict[str, float]) -> dict[str, float]:
    return {k: tuned[k] - base[k] for k in base if k in tuned and k != "n" and not k.startswith("n_")}
