"""The paraphrase path end to end on the tiny model: batched generation, filtering, rejects with reasons."""

from __future__ import annotations

import pytest

from lmforge.data.augment.paraphrase import clean
from lmforge.errors import UserError


def test_clean_strips_chatter_and_quotes():
    assert clean('Sure! Here is the rewritten text: "Nice shoes."') == "Nice shoes."
    assert clean("  Here's a paraphrased version:\nGreat kettle.  ") == "Great kettle."
    assert clean("'") == "'"


def _para(model: str, **kw) -> dict:
    return {
        "paraphrase": {
            "model": model,
            "n": 2,
            "max_new_tokens": 8,
            "temperature": 0.9,
            "batch_size": 4,
            **kw,
        },
        "max_records": 3,
    }


def test_paraphrase_end_to_end_on_tiny_model(experiment, tiny_llama, tmp_path):
    stats, files = experiment(_para(tiny_llama), out="a")
    a = stats["augmented"]
    assert a["by_method"]["paraphrase"]["generated"] == 6 == a["generated"] == a["kept"] + a["rejected"]
    assert stats["accounting"]["ok"]
    src = {r["id"]: r for r in files["train"] if "augmented_from" not in r}
    kept = [r for r in files["train"] if "augmented_from" in r]
    assert len(kept) == a["kept"]
    for r in kept:
        assert r["augment_method"] == "paraphrase" and r["label"] == src[r["augmented_from"]]["label"]
    rejects = [r for r in files["rejects"] if r["step"].startswith("augment/")]
    assert len(rejects) == a["rejected"] and all(r["reason"] for r in rejects)
    for r in rejects:  # the rejected variant still names its source and keeps its label
        assert r["record"]["label"] == src[r["record"]["augmented_from"]]["label"]
    for name in ("val", "test"):
        assert not any("augmented_from" in r for r in files[name])
    # same seed, same samples
    experiment(_para(tiny_llama), out="b")
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()


def test_prompt_without_slot_is_a_user_error(experiment, tiny_llama):
    with pytest.raises(UserError, match=r"prompt: must contain \{text\}"):
        experiment(_para(tiny_llama, prompt="Paraphrase this."))
