"""Task metrics as pure functions over predictions and references (kept libraries do the counting)."""

from __future__ import annotations

import collections
import re
import string
from typing import Any


def classification_metrics(y_true: list[str], y_pred: list[str], labels: list[str]) -> tuple[dict, dict]:
    """Accuracy, macro-F1 and per-class precision/recall (scikit-learn), plus the confusion matrix.

    >>> classification_metrics(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])[0]["accuracy"]
    0.6666666666666666
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    precision, recall, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    flat = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }
    for label, p, r in zip(labels, precision, recall, strict=True):
        flat[f"precision_{label}"] = float(p)
        flat[f"recall_{label}"] = float(r)
    matrix = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return flat, {"labels": labels, "confusion_matrix": matrix}


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, no punctuation, no articles, single spaces.

    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    """
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_f1(prediction: str, reference: str) -> float:
    """Token-overlap F1 after normalisation: ("Paris, France", "Paris") -> 0.667."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = collections.Counter(pred) & collections.Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    p, r = same / len(pred), same / len(ref)
    return 2 * p * r / (p + r)


def qa_metrics(predictions: list[str], references: list[Any]) -> dict[str, float]:
    """Exact match and F1 (SQuAD), best over the references of each record (a string or a list)."""
    em = f1 = 0.0
    for pred, refs in zip(predictions, references, strict=True):
        refs = refs if isinstance(refs, list) else [refs]
        em += max(float(normalize_answer(pred) == normalize_answer(str(r))) for r in refs)
        f1 += max(squad_f1(pred, str(r)) for r in refs)
    n = max(len(predictions), 1)
    return {"exact_match": em / n, "f1": f1 / n}


def rouge_metrics(predictions: list[str], references: list[str], keys=("rouge1", "rouge2", "rougeL")) -> dict:
    """Mean ROUGE F-measures (rouge-score, with stemming); `rougeL` is reported as `rouge_l`."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(keys), use_stemmer=True)
    totals = dict.fromkeys(keys, 0.0)
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        for k in keys:
            totals[k] += scores[k].fmeasure
    n = max(len(predictions), 1)
    return {("rouge_l" if k == "rougeL" else k): v / n for k, v in totals.items()}


def sacrebleu_metrics(predictions: list[str], references: list[str], which: list[str]) -> dict[str, float]:
    """Corpus BLEU and/or chrF (sacrebleu), on a 0-100 scale."""
    import sacrebleu

    out = {}
    if "bleu" in which:
        out["bleu"] = float(sacrebleu.corpus_bleu(predictions, [references]).score)
    if "chrf" in which:
        out["chrf"] = float(sacrebleu.corpus_chrf(predictions, [references]).score)
    return out


# metrics computed from generations, over `eval.generate_n` records (eval.json's `n` when not all)
GENERATION_METRICS = ("rouge_l", "rouge1", "rouge2", "eos_rate", "exact_match", "f1", "bleu", "chrf")


def records_behind(result: dict[str, Any], metric: str, side: str | None = None) -> int | None:
    """How many records a metric of an eval.json comes from: its own `n_<metric>` where it has one (the
    tool-call metrics, evaluation/tool_metrics.py; `side` picks base or finetuned, whose can differ),
    `n` for a generation metric, else all.

    >>> result = {"records": 77, "base": {"n": 16, "n_tool_valid_json": 3}, "finetuned": {"n": 16}}
    >>> records_behind(result, "rouge_l"), records_behind(result, "loss")
    (16, 77)
    >>> records_behind(result, "tool_valid_json", "base")
    3
    """
    records = result.get("records")
    sides = [result.get(s) for s in ((side,) if side else ("finetuned", "base"))]
    sides = [s for s in sides if isinstance(s, dict)]
    own = next((s[f"n_{metric}"] for s in sides if f"n_{metric}" in s), None)
    if own is not None:
        return own
    if metric not in GENERATION_METRICS:
        return records
    return next((s["n"] for s in sides if "n" in s), records)
