"""Generation metrics of eval: greedy answers for the records' prompts, then ROUGE / EOS rate / EM.

Prompts are sorted by length and batched by a token budget (rows x (longest prompt + max_new_tokens)
<= 2 x eval.batch_tokens), so left padding stays short and a batch holds as many rows as fit: decoding one
token costs about the same for 8 rows as for 32 on a small model, the weights are read once per step.
"""

from __future__ import annotations

from typing import Any

from lmforge.config import ExperimentConfig
from lmforge.evaluation.batching import budget_batches, progress
from lmforge.evaluation.metrics import qa_metrics, rouge_metrics, sacrebleu_metrics
from lmforge.inference.generation import Generation, generate
from lmforge.tasks import Task


def generate_for(
    cfg: ExperimentConfig, task: Task, model: Any, tokenizer: Any, records: list[dict]
) -> list[Generation]:
    """Greedy generations for the records' prompts (causal_lm: continue the first half of the text).

    A chat prompt is rendered as training rendered it: with the record's `tools` and `train.thinking`,
    through the tokenizer's template (the tool-aware one training wrote, loading.py for the base).
    """
    if task.name == "causal_lm":
        return generate_sorted(cfg, model, tokenizer, [halves(r["text"])[0] for r in records], raw=True)
    from lmforge.formatting.templates import encode_prompt

    prompts = [
        encode_prompt(tokenizer, task.prompt_messages(r), r.get("tools") or None, task.thinking)
        for r in records
    ]
    return generate_sorted(cfg, model, tokenizer, prompts)


def generate_sorted(
    cfg: ExperimentConfig,
    model: Any,
    tokenizer: Any,
    prompts: list,
    raw: bool = False,
    max_new_tokens: int | None = None,
    **sampling: float,
) -> list[Generation]:
    """`generate` over length-sorted, token-budgeted batches; results in the prompts' order.

    `prompts`: texts to continue (`raw`) or token ids of rendered chat prompts. Greedy with
    `eval.max_new_tokens` unless given `max_new_tokens`, `temperature` and `top_p` (rl eval, rl_scores.py).
    """
    lengths = [len(tokenizer(p)["input_ids"]) if raw else len(p) for p in prompts]
    new = max_new_tokens or cfg.eval.max_new_tokens
    # twice the scoring budget: a decoding step reads the weights once for all rows, so more rows are
    # nearly free (64 rows of 124 tokens: 3.5x plain batches of 8 on the built-in model, 2 CPU cores)
    batches = budget_batches([n + new for n in lengths], 2 * cfg.eval.batch_tokens, cfg.eval.batch_size)
    out: list[Any] = [None] * len(prompts)
    with progress(len(prompts), "generate") as bar:
        for idx in batches:
            gens = generate(
                model,
                tokenizer,
                [prompts[i] for i in idx],
                raw=raw,
                max_new_tokens=new,
                batch_size=len(idx),
                **sampling,
            )
            for i, g in zip(idx, gens, strict=True):
                out[i] = g
            bar.update(len(idx))
    return out


def reference(task: Task, record: dict) -> str:
    """What a generation is scored against: the second half of a document, or the task's answer."""
    return halves(record["text"])[1] if task.name == "causal_lm" else task.target(record)


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


def halves(text: str) -> tuple[str, str]:
    """A document cut in two at the middle word.

    >>> halves("a b c d e")
    ('a b', 'c d e')
    """
    words = text.split()
    mid = max(1, len(words) // 2)
    return " ".join(words[:mid]), " ".join(words[mid:])
