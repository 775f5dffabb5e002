"""A shard of one big file (a JSON array) counts its word stats in parts of TEXT_PART_CHARS, merged like
shards: word counts stay exact, and the co-occurrence counts keep their error bounds."""

from __future__ import annotations

import json
import random

import lmforge.data.worker as worker


def _array(n: int) -> str:
    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega".split()
    rows = [{"text": " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))} for _ in range(n)]
    return json.dumps(rows)


def test_word_stats_in_parts_equal_one_part(runner, monkeypatch):
    runner.write("a.json", _array(3000))
    whole, _, _ = runner.run([{"path": "a.json"}], out="o1")
    monkeypatch.setattr(worker, "TEXT_PART_CHARS", 20_000)  # ~30 parts for this one-shard file
    parts, _, _ = runner.run([{"path": "a.json"}], out="o2")
    assert parts["word_frequencies"] == whole["word_frequencies"]
    top = {tuple(p["pair"]): p for p in parts["cooccurrence"]["top"]}
    for p in whole["cooccurrence"]["top"]:  # exact counts in one part; bounded in parts
        got = top[tuple(p["pair"])]
        assert got["count"] <= p["count"] <= got["count"] + got.get("error", 0)
