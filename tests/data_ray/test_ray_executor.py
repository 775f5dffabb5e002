"""data.executor: ray gives the same files as the local executor: a real local Ray (2 CPUs) on a corpus
with exact duplicates, near-duplicates across files, and junk."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from lmforge.data.prepare import prepare

ray = pytest.importorskip("ray")

WORDS = (
    "river stone market garden teacher window orange silver engine harbor pencil forest lantern "
    "doctor bridge winter candle meadow rocket violin castle"
).split()


def _text(rng: random.Random, n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def _write_corpus(root: Path) -> None:
    """4 files (4 shards); duplicates, near-duplicates and chains of near-duplicates point across files,
    so only a global dedup finds them; junk lines are rejected at read or by the length filter."""
    rng = random.Random(7)
    base = [_text(rng) for _ in range(120)]
    files: list[list[str]] = [[] for _ in range(4)]
    for i, t in enumerate(base):
        files[i % 4].append(json.dumps({"text": t}))
    for i in range(0, 120, 6):  # exact dups (up to case and punctuation) in another file
        files[(i + 1) % 4].append(json.dumps({"text": base[i].upper().replace(".", "!")}))
    for i in range(3, 120, 5):  # near-dups: the last word changed, in another file
        words = base[i].split()
        words[-1] = "zebra."  # the last word: one 5-gram of 36 changes, jaccard 35/37
        files[(i + 2) % 4].append(json.dumps({"text": " ".join(words)}))
    for i in range(1, 120, 10):  # chains in two other files: each link >= 0.8, the ends 31/41 = 0.76
        words = base[i].split()
        words[0] = "zebra"
        files[(i + 1) % 4].append(json.dumps({"text": " ".join(words)}))
        words[36] = "yak"
        files[(i + 3) % 4].append(json.dumps({"text": " ".join(words)}))
    for f in files:  # junk: malformed JSON, missing field, too short
        f += ['{"text": "broken', json.dumps({"other": 1}), json.dumps({"text": "too short"})]
    for k, lines in enumerate(files):
        (root / "raw").mkdir(exist_ok=True)
        (root / "raw" / f"part{k}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _config(root: Path, out: str, **data: object) -> Path:
    exp = {
        "name": "ray-parity",
        "seed": 3,
        "task": {"type": "causal_lm"},
        "data": {
            "sources": [{"path": "raw/*.jsonl"}],
            "output_dir": str(root / out),
            "workers": 2,
            "steps": [
                "fix_unicode",
                "normalize",
                {"length": {"min_words": 5}},
                "exact_dedup",
                {"near_dedup": {"threshold": 0.8}},
                "pii",
            ],
            "split": {"train": 0.8, "val": 0.1, "test": 0.1},
            **data,
        },
    }
    path = root / f"{out}.yaml"
    path.write_text(yaml.safe_dump(exp), encoding="utf-8")
    return path


def test_ray_run_equals_local_run(tmp_path: Path) -> None:
    _write_corpus(tmp_path)
    local = prepare(_config(tmp_path, "local"), quiet=True)
    remote = prepare(_config(tmp_path, "ray", executor="ray", ray={"num_cpus": 2}), quiet=True)
    assert not ray.is_initialized()  # the run started its own Ray and shut it down
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "rejects.jsonl"):
        a, b = (tmp_path / "local" / name).read_bytes(), (tmp_path / "ray" / name).read_bytes()
        assert a == b, name
    rejects = [json.loads(line) for line in (tmp_path / "ray" / "rejects.jsonl").read_text().splitlines()]
    reasons = [r["reason"] for r in rejects]
    # the corpus's planted problems were all found, across files: the comparison is not of two empty runs
    assert sum(r.startswith("exact duplicate of raw/part") for r in reasons) == 20
    assert sum(r.startswith("near-duplicate of raw/part") for r in reasons) == 24 + 2 * 12
    near = [(r["id"], r["reason"]) for r in rejects if r["step"] == "near_dedup"]
    local_rejects = (tmp_path / "local" / "rejects.jsonl").read_text().splitlines()
    assert near == [
        (r["id"], r["reason"]) for r in map(json.loads, local_rejects) if r["step"] == "near_dedup"
    ]
    assert all(i.split(":")[0] != r.split()[2].split(":")[0] for i, r in near)  # kept in another file
    # half the chains start in an earlier file than their middle: their far end goes through the middle
    assert sum("(jaccard 0.76)" in r for _, r in near) == 6
    assert sum(r["step"] == "read" for r in rejects) == 8 and sum(r["step"] == "length" for r in rejects) == 4
    assert remote["split"] == local["split"] and sum(local["split"].values()) == 120
    for a, b in zip(local["steps"], remote["steps"], strict=True):  # same funnel; only timings differ
        assert {k: v for k, v in a.items() if k != "time_s"} == {k: v for k, v in b.items() if k != "time_s"}
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["files"] == json.loads((tmp_path / "local" / "manifest.json").read_text())["files"]


def test_unreachable_address_is_a_user_error(tmp_path: Path) -> None:
    from lmforge.errors import UserError

    _write_corpus(tmp_path)
    for address in ("127.0.0.1:1", "auto"):  # nothing listens there; no cluster was started on this machine
        cfg = _config(tmp_path, "bad", executor="ray", ray={"address": address})
        with pytest.raises(UserError, match="data.ray.address"):
            prepare(cfg, quiet=True)
    assert not ray.is_initialized()
