"""near_dedup under Ray: the band work runs as several Ray tasks, each on its own bands, and the spread-out
decision equals the one-process decision on a stage folder whose near-duplicates sit in other shards."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from lmforge.data.executor import decide_in_process, load_keys, shard_ids
from lmforge.data.ray_executor import band_groups, near_candidates, ray_decide
from lmforge.data.steps import StepContext
from lmforge.data.steps.dedup import NearDedup

ray = pytest.importorskip("ray")

WORDS = "river stone market garden teacher window orange silver engine harbor pencil forest lantern".split()


def _stage(d: Path, step: NearDedup, n_shards: int = 3) -> list[str]:
    """A stage folder as the workers leave it; copies and edit chains of shard 0's texts in shards 1, 2."""
    rng = random.Random(11)
    base = [" ".join(rng.choice(WORDS) for _ in range(40)) for _ in range(60)]
    shards: list[list[str]] = [base[:30], base[30:], []]
    for i in range(0, 30, 2):
        w = base[i].split()
        w[0] = "zebra"  # one word changed: 1 of 36 5-grams, jaccard 35/37 with base[i]
        shards[1].append(" ".join(w))
        w[36] = "yak"  # and another, 4 more 5-grams: 32/40 with the edit, 31/41 with base[i]: a chain
        shards[2].append(" ".join(w))
    ids = []
    for s, texts in enumerate(shards[:n_shards]):
        shard_ids = [f"part{s}.jsonl:{k}" for k in range(len(texts))]
        ids += shard_ids
        np.save(d / f"{s}.keys.npy", step.keys(texts))
        (d / f"{s}.ids.json").write_text(json.dumps(shard_ids))
        lines = [
            json.dumps({"id": i, "text": t, "meta": {}}) + "\n" for i, t in zip(shard_ids, texts, strict=True)
        ]
        (d / f"{s}.kept.jsonl").write_text("".join(lines))
    return ids


OFFSETS = [0, 30, 75, 90]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def test_band_groups_cover_every_band_once():
    assert band_groups(5, 2) == [[0, 2, 4], [1, 3]]
    assert band_groups(3, 8) == [[0], [1], [2]]
    groups = band_groups(25, 4)
    assert sorted(b for g in groups for b in g) == list(range(25)) and len(groups) == 4


def test_bands_run_as_several_tasks_and_decide_as_locally(tmp_path: Path, local_ray) -> None:
    step = NearDedup(threshold=0.8, ctx=StepContext())
    ids = _stage(tmp_path, step)
    pairs, tasks = near_candidates(local_ray, step, tmp_path, OFFSETS, tasks=3)
    assert len({task_id for task_id, _ in tasks}) == 3  # three distinct Ray tasks
    assert sorted(b for _, bands in tasks for b in bands) == list(range(step.bands))
    everything = load_keys(tmp_path, 3)
    assert np.array_equal(pairs, step.candidates(everything[:, step.band_columns(range(step.bands))]))

    assert shard_ids(tmp_path, 3) == (ids, OFFSETS)  # 30 originals, 30 others + 15 edits, 15 chain ends
    spread = ray_decide(local_ray)(step, tmp_path, 3, ids, OFFSETS)
    here = decide_in_process(step, tmp_path, 3, ids, OFFSETS)
    assert spread == here
    assert (
        len(here) == 30 and min(here) == 60
    )  # every copy in shards 1 and 2, each named after its original in shard 0
    assert all(ids[i].startswith(("part1", "part2")) and "of part0.jsonl:" in r for i, r in here.items())
    # a chain's end is below the threshold with its root, found through the middle record
    assert here[75] == "near-duplicate of part0.jsonl:0 (jaccard 0.76)"
