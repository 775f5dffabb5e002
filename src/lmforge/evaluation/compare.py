"""`lmforge eval`: the task's metrics for the base and the fine-tuned model on the same records.

Everything is computed one batch at a time: the loss through `train.evaluation.eval_loss` (the code the
trainer's periodic validation runs), label scores and generations per batch, so nothing of size
records x sequence x vocabulary is ever kept (transformers #12878, #26474).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.config import ExperimentConfig
from lmforge.errors import UserError
from lmforge.evaluation.metrics import classification_metrics, qa_metrics, rouge_metrics, sacrebleu_metrics
from lmforge.inference.generation import Generation, generate
from lmforge.models import pad_token_id
from lmforge.tasks import Task

SAMPLES_SHOWN = 8  # generations kept in samples.jsonl for the report


def evaluate(
    cfg: ExperimentConfig, model_dir: str | None = None, split: str | None = None, compare: bool = True
) -> dict[str, Any]:
    """Score base and fine-tuned on `split`; write eval.json and samples.jsonl; return the eval dict.

    `compare=False` scores the fine-tuned model alone (hyper-parameter trials); `base` is then empty.

    >>> lmforge.evaluate(cfg)["finetuned"]["loss"]  # doctest: +SKIP
    1.73
    """
    from lmforge.formatting.token_cache import make_task, read_jsonl

    split = split or cfg.eval.split
    path = Path(cfg.data.output_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise UserError(f"{path} not found: run `lmforge prepare` first (or set data.output_dir)")
    records = read_jsonl(path)
    if not records:
        raise UserError(f"{path} is empty: nothing to evaluate")
    tuned_path = Path(model_dir) if model_dir else Path(cfg.train.output_dir) / "final"
    if not tuned_path.exists():
        raise UserError(
            f"no fine-tuned model at {tuned_path}: run `lmforge train` first, or pass --model DIR"
        )
    task = make_task(cfg)
    sample = _sample(len(records), cfg.eval.generate_n, cfg.seed)
    results = {"base": {"metrics": {}, "details": {}}}
    generations: dict[str, list[str]] = {"base": [""] * len(sample)}
    loaders = {"base": lambda: load_base(cfg, task), "finetuned": lambda: load_trained(tuned_path, cfg, task)}
    for side in ("base", "finetuned") if compare else ("finetuned",):
        model, tokenizer = loaders[side]()
        results[side], generations[side] = score(cfg, task, model, tokenizer, records, sample, split)
        del model
    out = {
        "split": split,
        "records": len(records),
        "base": results["base"]["metrics"],
        "finetuned": results["finetuned"]["metrics"],
        "delta": _delta(results["base"]["metrics"], results["finetuned"]["metrics"]),
        "details": {side: r["details"] for side, r in results.items()},
        "model": str(tuned_path),
    }
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
    """The task's metrics of one model; returns ({"metrics", "details"}, texts shown for the sampled records)."""
    metrics = loss_metrics(cfg, model, tokenizer, split)
    details: dict[str, Any] = {}
    shown: list[str] = []
    picked = [records[i] for i in sample]
    if task.name == "classification":
        labels = task.label_set()
        probs = (
            classifier_probs(cfg, task, model, tokenizer, records)
            if cfg.task.head == "classifier"
            else label_probs(cfg, task, model, tokenizer, records)
        )
        predicted = [labels[int(i)] for i in probs.argmax(dim=1)]
        flat, details = classification_metrics([str(r["label"]) for r in records], predicted, labels)
        metrics.update(flat)
        shown = [predicted[i] for i in sample]
    elif picked:
        gens = generate_for(cfg, task, model, tokenizer, picked)
        preds, refs = [g.text for g in gens], [reference(task, r) for r in picked]
        metrics.update(generation_metrics(cfg, task, preds, refs, gens, [r.get("answer") for r in picked]))
        shown = preds
    return {"metrics": metrics, "details": details}, shown


def loss_metrics(cfg: ExperimentConfig, model: Any, tokenizer: Any, split: str) -> dict[str, float]:
    """Token-weighted loss and perplexity of the split, through the trainer's own eval_loss."""
    from lmforge.formatting.packing import collate
    from lmforge.formatting.token_cache import tokenize_split
    from lmforge.training.batches import eval_batches
    from lmforge.training.validation import eval_loss

    examples = tokenize_split(cfg, split, tokenizer, packed=False)
    pad_id = pad_token_id(tokenizer)
    result = eval_loss(model, eval_batches(examples, cfg.eval.batch_size, collate, pad_id))
    out = {"loss": result["loss"]}
    if cfg.task.head != "classifier":
        out["perplexity"] = result["perplexity"]
    return out


@torch.no_grad()
def label_probs(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict]
) -> torch.Tensor:
    """(N, C) probabilities from each label's log-likelihood as the assistant's answer (label + EOS).

    Each (record, label) pair is one row; rows go through the model cfg.eval.batch_size at a time, and only
    the per-row sums are kept.
    """
    from lmforge.formatting.packing import collate

    labels = task.label_set()
    rows = [{**r, "label": label} for r in records for label in labels]
    # keep the end of a long prompt: truncating on the right would cut the label being scored
    scoring = type(task)(task.cfg.model_copy(update={"truncate": "left"}))
    scoring.labels = labels
    examples, _ = scoring.encode_batch(rows, tokenizer, cfg.train.max_seq_len)
    scores = []
    model.eval()
    for i in range(0, len(examples), cfg.eval.batch_size):
        batch = collate(examples[i : i + cfg.eval.batch_size], pad_token_id(tokenizer))
        scores.append(sequence_logprob(model, batch))
    return torch.cat(scores).view(len(records), len(labels)).softmax(dim=1)


@torch.no_grad()
def sequence_logprob(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B,) summed log-probability of each row's label tokens (labels unshifted, -100 = not scored)."""
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
    device = next(model.parameters()).device
    logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits[:, :-1].float()  # (B, T-1, V)
    targets = batch["labels"][:, 1:].to(device)  # (B, T-1)
    mask = targets != -100
    logp = -F.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")  # (B, T-1)
    return (logp * mask).sum(dim=1).cpu()


@torch.no_grad()
def classifier_probs(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict]
) -> torch.Tensor:
    """(N, C) softmax of the sequence-classification head, batch by batch."""
    from lmforge.formatting.packing import collate

    examples, _ = task.encode_batch(records, tokenizer, cfg.train.max_seq_len)
    model.eval()
    out = []
    device = next(model.parameters()).device
    for i in range(0, len(examples), cfg.eval.batch_size):
        batch = collate(examples[i : i + cfg.eval.batch_size], pad_token_id(tokenizer))
        inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask")}
        out.append(model(**inputs).logits.float().softmax(dim=1).cpu())
    return torch.cat(out)


def generate_for(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict]
) -> list[Generation]:
    """Greedy generations for the records' prompts (causal_lm: continue the first half of the text)."""
    if task.name == "causal_lm":
        return generate_prompts(cfg, model, tokenizer, [_halves(r["text"])[0] for r in records], raw=True)
    return generate_prompts(cfg, model, tokenizer, [task.prompt_messages(r) for r in records])


def generate_prompts(
    cfg: ExperimentConfig, model: Any, tokenizer: Any, prompts: list, raw: bool = False
) -> list[Generation]:
    """Greedy generations with the `eval` settings for prompts already built (`raw`: no chat template)."""
    kwargs = {"max_new_tokens": cfg.eval.max_new_tokens, "batch_size": cfg.eval.batch_size}
    return generate(model, tokenizer, prompts, raw=raw, **kwargs)


def reference(task: Task, record: dict) -> str:
    return _halves(record["text"])[1] if task.name == "causal_lm" else task.target(record)


def generation_metrics(
    cfg: ExperimentConfig,
    task: Task,
    preds: list[str],
    refs: list[str],
    gens: list[Generation],
    answers: list,
) -> dict[str, float]:
    """ROUGE-L (all), EOS rate (chat tasks), EM/F1 (qa), ROUGE-1/2 and BLEU/chrF (summarization)."""
    out: dict[str, float] = {}
    if task.name == "summarization":
        out.update(rouge_metrics(preds, refs))
        out.update(sacrebleu_metrics(preds, refs, list(cfg.eval.extra_metrics)))
    else:
        out.update(rouge_metrics(preds, refs, keys=("rougeL",)))
    if task.name == "qa":
        out.update(qa_metrics(preds, answers))
    if task.name != "causal_lm":
        out["eos_rate"] = sum(g.finished for g in gens) / len(gens)
    return out


def load_base(cfg: ExperimentConfig, task: Task) -> tuple[Any, Any]:
    """The pretrained model of `model.name` (a freshly seeded head for `task.head: classifier`)."""
    from lmforge.formatting.templates import ensure_chat_template
    from lmforge.models import load_model, load_tokenizer

    tokenizer = ensure_chat_template(
        load_tokenizer(cfg.model.name, cfg.model.trust_remote_code), cfg.task.chat_template
    )
    if cfg.task.head != "classifier":
        return load_model(cfg.model.name, cfg.model.trust_remote_code), tokenizer
    torch.manual_seed(cfg.seed)
    model = load_model(
        cfg.model.name, cfg.model.trust_remote_code, head="classifier", num_labels=len(task.label_set())
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id(tokenizer)
    return model, tokenizer


def load_trained(path: Path, cfg: ExperimentConfig, task: Task) -> tuple[Any, Any]:
    """A fine-tuned model folder (full model or LoRA adapter, LM or classifier head) and its tokenizer."""
    from lmforge.inference.generation import load_for_inference
    from lmforge.models import load_model, load_tokenizer, resolve_peft_adapter

    if path.is_dir() and (path / "final").is_dir():
        path = path / "final"
    meta_file = path / "lmforge.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    if meta.get("head", cfg.task.head) != "classifier":
        return load_for_inference(str(path), cfg.model.trust_remote_code)
    n = len(meta.get("labels") or task.label_set())
    adapter = resolve_peft_adapter(str(path))
    if adapter is None:
        model = load_model(str(path), cfg.model.trust_remote_code, head="classifier", num_labels=n)
    else:
        from peft import PeftModel

        base = load_model(adapter[0], cfg.model.trust_remote_code, head="classifier", num_labels=n)
        model = PeftModel.from_pretrained(base, adapter[1])
    tokenizer = load_tokenizer(str(path), cfg.model.trust_remote_code)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id(tokenizer)
    return model, tokenizer


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
        return _halves(record["text"])[0]
    messages = task.prompt_messages(record)
    return "\n".join(m["content"] for m in messages if m["role"] != "system")


def _halves(text: str) -> tuple[str, str]:
    """A document cut in two at the middle word: "a b c d" -> ("a b", "c d")."""
    words = text.split()
    mid = max(1, len(words) // 2)
    return " ".join(words[:mid]), " ".join(words[mid:])


def _sample(n: int, k: int, seed: int) -> list[int]:
    """The same k record indices for both models (sorted, seeded)."""
    return sorted(random.Random(seed).sample(range(n), min(k, n)))


def _delta(base: dict[str, float], tuned: dict[str, float]) -> dict[str, float]:
    return {k: tuned[k] - base[k] for k in base if k in tuned}
