"""data.augment through a real prepare run: train only, seeded, labels kept, sources never duplicated,
rejects with reasons, and read = kept + rejected still true with the augmentations counted apart."""

from __future__ import annotations

import pytest
from dedup_helpers import norm

EDA = {"eda": {"n": 2, "synonym": 0.2, "insert": 0.1, "swap": 0.1, "delete": 0.1}}


def test_off_by_default_writes_nothing_extra(experiment):
    stats, files = experiment(None)
    assert "augmented" not in stats
    assert not any("augmented_from" in r for r in files["train"])
    assert len(files["train"]) == stats["split"]["train"] > 10


def test_eda_only_in_train_with_source_and_label(experiment):
    stats, files = experiment(EDA)
    src = {r["id"]: r for r in files["train"] if "augmented_from" not in r}
    aug = [r for r in files["train"] if "augmented_from" in r]
    n = stats["split"]["train"]
    assert len(src) == n and aug
    for name in ("val", "test"):
        assert not any("augmented_from" in r or "#eda" in r["id"] for r in files[name])
    for r in aug:
        s = src[r["augmented_from"]]  # sources are train records only
        assert r["augment_method"] == "eda"
        assert r["label"] == s["label"]
        assert norm(r["text"]) != norm(s["text"])
    a = stats["augmented"]
    assert a["generated"] == 2 * n == a["kept"] + a["rejected"]
    assert a["by_method"]["eda"] == {"generated": 2 * n, "kept": len(aug), "rejected": a["rejected"]}
    assert stats["accounting"]["ok"] and stats["accounting"]["kept"] == sum(stats["split"].values())
    aug_rejects = [r for r in files["rejects"] if r["step"].startswith("augment/")]
    assert len(aug_rejects) == a["rejected"]
    assert all(r["reason"] for r in aug_rejects)


def test_same_seed_same_augmentations(experiment, tmp_path):
    experiment(EDA, out="a")
    experiment(EDA, out="b")
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()


def test_copies_of_sources_and_of_each_other_are_rejected(experiment):
    # rates 0: every variant equals its source -> all rejected as exact duplicates, naming the source
    stats, files = experiment({"eda": {"n": 2, "synonym": 0, "insert": 0, "swap": 0, "delete": 0}})
    n2 = 2 * stats["split"]["train"]
    assert stats["augmented"] == {
        "generated": n2,
        "kept": 0,
        "rejected": n2,
        "by_method": {"eda": {"generated": n2, "kept": 0, "rejected": n2}},
        "reasons": {"augment/exact_dedup: exact duplicate": n2},
    }
    rej = [r for r in files["rejects"] if r["step"] == "augment/exact_dedup"]
    assert all(r["reason"] == f"exact duplicate of {r['record']['augmented_from']}" for r in rej)
    assert len(files["train"]) == stats["split"]["train"]


def test_pipeline_filters_apply_to_augmentations(experiment):
    # deletion at 0.9 leaves 1-3 words: the source's own length filter drops them with its reason
    stats, files = experiment(
        {"eda": {"n": 1, "synonym": 0, "insert": 0, "swap": 0, "delete": 0.9}},
        steps=[{"length": {"min_words": 6}}],
    )
    reasons = stats["augmented"]["reasons"]
    assert reasons.get("augment/length: too short", 0) >= 15
    assert stats["accounting"]["ok"]


def test_label_cannot_be_an_augmented_field(experiment):
    from lmforge.errors import UserError

    with pytest.raises(UserError, match="label is never rewritten"):
        experiment({"eda": {"n": 1}, "fields": ["text", "label"]})
