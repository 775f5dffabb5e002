"""Gopher / C4 / FineWeb decisions compared with datatrove's own filters on the same generated documents.

Skipped when datatrove (and spaCy, which its English word splitter needs) is not installed.
"""

from __future__ import annotations

import random

import pytest

from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps

WORDS = (
    "the be to of and that have with a in is it for on as at by this from people time year way day "
    "thing man world life hand part child eye woman place work week case point company number group "
    "problem fact house water money story night month lot right study book job word business issue"
).split()


def make_doc(rng: random.Random) -> str:
    """Documents that trip each rule some of the time: length, symbols, bullets, ellipses, repeats."""
    n_lines = rng.randint(1, 25)
    lines = []
    for _ in range(n_lines):
        kind = rng.random()
        n = rng.randint(1, 30)
        words = rng.choices(WORDS if rng.random() < 0.9 else ["xx", "qq", "z", "#", "12", "ab"], k=n)
        line = " ".join(words)
        if kind < 0.6:
            line = line.capitalize() + rng.choice([".", ".", "!", "?", "", "...", ":"])
        elif kind < 0.75:
            line = "- " + line
        elif kind < 0.8:
            line = "# " + line
        elif kind < 0.9 and lines:
            line = rng.choice(lines)  # a repeated line
        lines.append(line)
        if rng.random() < 0.15:
            lines.append("")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def docs():
    rng = random.Random(0)
    return [make_doc(rng) for _ in range(400)]


def _ours(name, text):
    step = build_steps([name], StepContext())[0]
    verdict = step.process(Record("d", {"text": text}, {}))
    return verdict is True


@pytest.mark.parametrize("name", ["gopher_quality", "gopher_repetition", "c4", "fineweb"])
def test_decisions_match_datatrove(name, docs):
    pytest.importorskip("spacy")
    filters = pytest.importorskip("datatrove.pipeline.filters")
    from datatrove.data import Document

    theirs = {
        "gopher_quality": filters.GopherQualityFilter,
        "gopher_repetition": filters.GopherRepetitionFilter,
        "c4": filters.C4QualityFilter,
        "fineweb": filters.FineWebQualityFilter,
    }[name]()
    agree = kept = 0
    mismatches = []
    for i, text in enumerate(docs):
        t = theirs.filter(Document(text=text, id=str(i)))
        t = t is True or (isinstance(t, tuple) and t[0])
        o = _ours(name, text)
        kept += o
        agree += o == t
        if o != t:
            mismatches.append(text[:80])
    assert 0 < kept < len(docs), "the generated set must exercise both outcomes"
    print(name, "agree", agree, "of", len(docs), "kept", kept)
    assert agree / len(docs) >= 0.99, f"{name}: {len(docs) - agree} disagreements, e.g. {mismatches[:2]}"
