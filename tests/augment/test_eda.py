"""EDA edits: seeded, never empty, synonyms from the table (built-in or a user's JSON file)."""

from __future__ import annotations

import json
import random

import pytest

from lmforge.data.augment.eda import BUILTIN, eda, load_synonyms

TEXT = "The delivery was slow but the staff were friendly and the price was good"


def test_same_seed_same_edits_other_seed_other_edits():
    a = [eda(TEXT, random.Random(f"1:x:{k}"), BUILTIN) for k in range(5)]
    b = [eda(TEXT, random.Random(f"1:x:{k}"), BUILTIN) for k in range(5)]
    c = [eda(TEXT, random.Random(f"2:x:{k}"), BUILTIN) for k in range(5)]
    assert a == b
    assert a != c


def test_synonym_replacement_only_uses_the_table():
    out = eda(TEXT, random.Random(0), BUILTIN, synonym=1.0, insert=0, swap=0, delete=0).split()
    src = TEXT.split()
    assert len(out) == len(src)
    changed = [(s, o) for s, o in zip(src, out, strict=True) if s != o]
    assert changed, "every word with synonyms should be replaced at rate 1.0"
    for s, o in changed:
        assert o.lower() in BUILTIN[s.lower()]


def test_swap_keeps_the_words_and_delete_never_empties():
    swapped = eda(TEXT, random.Random(3), BUILTIN, synonym=0, insert=0, swap=0.3, delete=0)
    assert sorted(swapped.split()) == sorted(TEXT.split()) and swapped != TEXT
    for seed in range(20):
        assert eda("one two", random.Random(seed), BUILTIN, 0, 0, 0, delete=1.0).strip()


def test_insertion_adds_synonyms():  # 0.5 x 2 words = one insertion
    out = eda("slow cat", random.Random(1), {"slow": ["sluggish"]}, synonym=0, insert=0.5, swap=0, delete=0)
    assert sorted(out.split()) == ["cat", "slow", "sluggish"]


def test_user_table_replaces_builtin_and_bad_file_is_an_error(tmp_path):
    good = tmp_path / "syn.json"
    good.write_text(json.dumps({"Cat": ["feline"]}))
    assert load_synonyms(str(good)) == {"cat": ["feline"]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(["cat"]))
    with pytest.raises(ValueError, match="word: \\[synonyms\\]"):
        load_synonyms(str(bad))
