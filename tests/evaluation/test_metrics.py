"""Our metric helpers against the reference libraries and hand-computed values."""

import math

import pytest
from rouge_score import rouge_scorer
from sklearn.metrics import accuracy_score, f1_score

from lmforge.evaluation.metrics import (
    classification_metrics,
    normalize_answer,
    qa_metrics,
    rouge_metrics,
    sacrebleu_metrics,
    squad_f1,
)


def test_classification_matches_sklearn():
    y_true = ["pos", "neg", "neu", "pos", "neg", "pos", "neu", "neu"]
    y_pred = ["pos", "neg", "pos", "pos", "neu", "neg", "neu", "neu"]
    flat, details = classification_metrics(y_true, y_pred, ["neg", "neu", "pos"])
    assert flat["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)) == pytest.approx(5 / 8)
    assert flat["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert flat["precision_pos"] == pytest.approx(2 / 3) and flat["recall_pos"] == pytest.approx(2 / 3)
    assert details["confusion_matrix"] == [[1, 1, 0], [0, 2, 1], [1, 0, 2]]


def test_squad_normalisation_and_f1():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert squad_f1("Paris, France", "Paris") == pytest.approx(2 / 3)
    assert squad_f1("Berlin", "Paris") == 0.0
    out = qa_metrics(["the Paris", "in Berlin", "Rome"], ["Paris", ["Munich", "Berlin"], "Madrid"])
    assert out["exact_match"] == pytest.approx(1 / 3)
    assert out["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_rouge_matches_rouge_score():
    preds = ["the cat sat on the mat", "a quick brown fox"]
    refs = ["the cat is on the mat", "the quick brown fox jumps"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = [scorer.score(r, p) for p, r in zip(preds, refs, strict=True)]
    out = rouge_metrics(preds, refs)
    assert out["rouge1"] == pytest.approx(sum(e["rouge1"].fmeasure for e in expected) / 2)
    assert out["rouge2"] == pytest.approx(sum(e["rouge2"].fmeasure for e in expected) / 2)
    assert out["rouge_l"] == pytest.approx(sum(e["rougeL"].fmeasure for e in expected) / 2)


def test_sacrebleu_perfect_and_partial():
    assert sacrebleu_metrics(["the cat sat on the mat"], ["the cat sat on the mat"], ["bleu"])[
        "bleu"
    ] == pytest.approx(100)
    partial = sacrebleu_metrics(["the cat sat"], ["the cat sat on the mat"], ["bleu", "chrf"])
    assert 0 < partial["chrf"] < 100 and not math.isnan(partial["bleu"])
