"""stats.json's co-occurrence: each shard sends its 20 x top_k pairs, and the merged counts carry error
bounds that hold, checked against one exact count over all shards together."""

from __future__ import annotations

import itertools
import random

import pytest

from lmforge.data.stats import TextStats, cooc_skip, merge_text_stats

NAMES = [
    w
    for w in map("".join, itertools.product("bcdfgklmnprstvz", "aeiou", "bcdfgklmnprstvz"))
    if not cooc_skip(w)
]


def shard(texts: list[str], top_k: int, window: int = 1) -> dict:
    s = TextStats()
    for t in texts:
        s.add(t)
    return s.result(top_k, window)


def true_counts(shards: list[list[str]], window: int = 1) -> dict[str, int]:
    everything = shard([t for texts in shards for t in texts], top_k=10**6, window=window)
    assert everything["pairs_floor"] == 0
    return everything["pairs"]


def test_a_pair_cut_from_every_shard_is_not_reported_as_absent():
    # "alpha omega" is each shard's 21st pair (3 times; 20 others 4 times), so every shard leaves it out;
    # in all it is the most frequent pair (9), which the old merge (top 20 x top_k per shard, summed) lost
    shards = []
    for s in range(3):
        own = NAMES[s * 40 : s * 40 + 40]
        texts = ["alpha omega"] * 3 + [f"{own[2 * i]} {own[2 * i + 1]}" for i in range(20) for _ in range(4)]
        shards.append(texts)
    merged = merge_text_stats([shard(t, top_k=1) for t in shards], top_k=1, window=1)["cooccurrence"]
    assert merged["exact"] is False
    assert merged["unlisted_max"] >= merged["max_error"] >= true_counts(shards)["alpha|omega"] == 9
    (top,) = merged["top"]
    assert top["count"] == 4 and top["error"] == 6  # a shard's pair: 4, maybe up to 3 more in each other


@pytest.mark.parametrize("seed", range(8))
def test_every_bound_holds_and_exact_means_exact(seed):
    rng = random.Random(seed)
    vocab = NAMES[: rng.randint(8, 60)]
    shards = [
        [" ".join(rng.choices(vocab, k=rng.randint(2, 12))) for _ in range(rng.randint(5, 60))]
        for _ in range(rng.randint(1, 5))
    ]
    top_k = rng.randint(1, 4)
    merged = merge_text_stats([shard(t, top_k) for t in shards], top_k, window=1)["cooccurrence"]
    truth = true_counts(shards)
    listed = set()
    for row in merged["top"]:
        key = "|".join(row["pair"])
        listed.add(key)
        assert row["count"] <= truth[key] <= row["count"] + row.get("error", 0)
    for key, c in truth.items():  # a pair left out of the table occurs at most unlisted_max times
        if key not in listed:
            assert c <= merged["unlisted_max"]
    best = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    if merged["exact"]:
        assert [r["count"] for r in merged["top"]] == [c for _, c in best]


def test_one_shard_with_few_pairs_is_exact():
    texts = ["apple banana cherry", "apple banana", "cherry apple"]
    merged = merge_text_stats([shard(texts, top_k=5)], top_k=2, window=1)["cooccurrence"]
    assert merged == {
        "window": 1,
        "top": [{"pair": ["apple", "banana"], "count": 2}, {"pair": ["apple", "cherry"], "count": 1}],
        "exact": True,
        "max_error": 0,
        "unlisted_max": 1,
    }
