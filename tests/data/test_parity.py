"""Gopher / C4 / FineWeb decisions compared with datatrove's own filters on the same generated documents.

lmforge departs from datatrove on purpose in three places (docs/prepare.md, "Quality rules on short texts
and per script"): a record under 50 words is not judged; word-based ratios and n-grams count words, not
punctuation tokens; the top n-gram share counts an n-gram only when it occurs more than once. So the
decisions are compared on documents of >= 50 words, with datatrove's words and top n-gram patched to
those definitions (the rules themselves are datatrove's), and each departure has a test of its own.

Skipped when datatrove (and spaCy, which its English word splitter needs) is not installed.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.words import counted_words, is_word

WORDS = (
    "the be to of and that have with a in is it for on as at by this from people time year way day "
    "thing man world life hand part child eye woman place work week case point company number group "
    "problem fact house water money story night month lot right study book job word business issue"
).split()
NAMES = ["gopher_quality", "gopher_repetition", "c4", "fineweb"]


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


def _kept(verdict) -> bool:
    return verdict is True or (isinstance(verdict, tuple) and bool(verdict[0]))


def _ours(spec, text):
    step = build_steps([spec], StepContext())[0]
    return step.process(Record("d", {"text": text}, {}))


def _theirs(name):
    filters = pytest.importorskip("datatrove.pipeline.filters")
    return {
        "gopher_quality": filters.GopherQualityFilter,
        "gopher_repetition": filters.GopherRepetitionFilter,
        "c4": filters.C4QualityFilter,
        "fineweb": filters.FineWebQualityFilter,
    }[name]()


@pytest.fixture
def datatrove_with_our_words(monkeypatch):
    """datatrove's filters, their words without punctuation tokens and their top n-gram counted only
    when it repeats: the two definitions lmforge changes, and nothing else."""
    pytest.importorskip("spacy")
    pytest.importorskip("datatrove.pipeline.filters")
    import datatrove.pipeline.filters.fineweb_quality_filter as fw
    import datatrove.pipeline.filters.gopher_quality_filter as gq
    import datatrove.pipeline.filters.gopher_repetition_filter as gr

    split = gr.split_into_words
    for mod in (gq, gr, fw):
        monkeypatch.setattr(mod, "split_into_words", lambda t, lang=None: [w for w in split(t) if is_word(w)])

    def top_repeat(grams):
        gram, count = Counter(grams).most_common(1)[0]
        return len(gram) * count if count > 1 else 0

    monkeypatch.setattr(gr, "find_top_duplicate", top_repeat)


@pytest.mark.parametrize("name", NAMES)
def test_decisions_match_datatrove_on_documents(name, docs, datatrove_with_our_words):
    from datatrove.data import Document

    theirs = _theirs(name)
    long = [t for t in docs if len(counted_words(t)) >= 50]
    agree = kept = 0
    mismatches = []
    for i, text in enumerate(long):
        t = _kept(theirs.filter(Document(text=text, id=str(i))))
        o = _kept(_ours(name, text))
        kept += o
        agree += o == t
        if o != t:
            mismatches.append(text[:80])
    assert len(long) > 300 and 0 < kept < len(long), "the generated set must exercise both outcomes"
    print(name, "agree", agree, "of", len(long), "kept", kept)
    assert agree / len(long) >= 0.99, f"{name}: {len(long) - agree} disagreements, e.g. {mismatches[:2]}"


@pytest.mark.parametrize("name", ["c4", "fineweb"])
def test_c4_and_fineweb_match_unpatched_datatrove_on_english_documents(name, docs):
    # their rules count no word ratios but newlines per word: datatrove as installed agrees
    pytest.importorskip("spacy")
    from datatrove.data import Document

    theirs = _theirs(name)
    long = [t for t in docs if len(counted_words(t)) >= 50]
    agree = sum(_kept(theirs.filter(Document(text=t, id="d"))) == _kept(_ours(name, t)) for t in long)
    assert agree / len(long) >= 0.99


def test_short_documents_are_not_judged_unless_asked(docs):
    short = [t for t in docs if len(counted_words(t)) < 50]
    assert len(short) > 20
    few = [t for t in short if len([x for x in t.splitlines() if x.strip()]) < 5]
    assert len(few) > 20
    for name in ("gopher_quality", "c4", "fineweb"):
        texts = short if name == "c4" else few  # the line rules judge a short record of 5 lines or more
        assert all(_ours(name, t) == (True, "not judged: shorter than 50 words") for t in texts), name
    # gopher_repetition still judges their lines and paragraphs, not their n-grams
    reps = [_ours("gopher_repetition", t) for t in short]
    assert all(
        v == (True, "n-grams not judged: shorter than 50 words") or v[1].startswith("duplicate") for v in reps
    )
    assert 0 < sum(v[0] is False for v in reps) < len(reps)
    # gopher_quality with `short: reject` rejects what datatrove's min_doc_words: 50 rejects
    rejected = [_ours({"gopher_quality": {"short": "reject"}}, t) for t in short]
    assert all(v[0] is False and v[1].startswith("too short to judge") for v in rejected)
