"""The whole run: split, stats, accounting, parallel == serial, and resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import lmforge.data.prepare as prep
from lmforge.errors import RunFailed


def corpus(n: int, dup_every: int = 10) -> str:
    rows = []
    for i in range(n):
        text = f"record {i} talks about topic {i % 7} with some words: alpha beta gamma delta {i * 31 % 97}"
        if i % dup_every == 0 and i:
            text = f"record {i - 1} talks about topic {(i - 1) % 7} with some words: alpha beta gamma delta {(i - 1) * 31 % 97}"
        rows.append(json.dumps({"text": text, "label": ["pos", "neg", "neu"][i % 3]}))
    return "\n".join(rows) + "\n"


def test_split_ratios_counts_and_stratify(runner):
    runner.write("a.jsonl", corpus(300, dup_every=10_000))
    split = {"train": 0.8, "val": 0.1, "test": 0.1}
    stats, kept, _ = runner.run([{"path": "a.jsonl"}], task="classification", split=split, out="r")
    assert stats["split"] == {"train": 240, "val": 30, "test": 30}
    val = runner.read("r/val.jsonl")
    assert Counter(r["label"] for r in val) != {"pos": 10, "neg": 10, "neu": 10}  # unstratified: uneven
    split["stratify"] = "label"
    runner.run([{"path": "a.jsonl"}], task="classification", split=split, out="s")
    for name, n in (("val", 10), ("test", 10), ("train", 80)):
        labels = Counter(r["label"] for r in runner.read(f"s/{name}.jsonl"))
        assert labels == {"pos": n, "neg": n, "neu": n}
    stats, _, rejects = runner.run(
        [{"path": "a.jsonl"}], task="classification", split={"train": 100, "val": 20, "test": 10}, out="c"
    )
    assert stats["split"] == {"train": 100, "val": 20, "test": 10}
    assert len(rejects) == 170 and {r["step"] for r in rejects} == {"split"}
    assert stats["accounting"]["ok"]


def test_split_is_a_function_of_ids_and_seed(runner):
    runner.write("a.jsonl", corpus(200, dup_every=10_000))
    split = {"train": 0.5, "val": 0.25, "test": 0.25}
    runner.run([{"path": "a.jsonl"}], split=split, out="x")
    runner.write("a.jsonl", corpus(200, dup_every=10_000) + json.dumps({"text": "one more"}) + "\n")
    runner.run([{"path": "a.jsonl"}], split=split, out="y")
    x = {r["id"] for r in runner.read("x/test.jsonl")}
    y = {r["id"] for r in runner.read("y/test.jsonl")}
    assert len(x & y) >= 45  # one new record barely moves the others


def test_stats_word_frequencies_and_cooccurrence(runner):
    runner.write(
        "a.jsonl",
        "".join(json.dumps({"text": t}) + "\n" for t in ["apple banana apple", "banana cherry", "apple"]),
    )
    stats, _, _ = runner.run([{"path": "a.jsonl"}], stats={"top_k": 2, "window": 1})
    wf = stats["word_frequencies"]
    assert wf["N"] == 3
    assert wf["top"] == [
        {"word": "apple", "count": 3, "f": 1.0},
        {"word": "banana", "count": 2, "f": 0.666667},
    ]
    assert stats["cooccurrence"]["top"][0] == {"pair": ["apple", "banana"], "count": 2}
    assert stats["length_chars_before"] == {"4-7": 1, "8-15": 1, "16-31": 1}
    saved = json.loads((runner.root / "out" / "stats.json").read_text())
    assert saved["accounting"]["ok"] and saved["steps"][0]["step"] == "read"
    manifest = json.loads((runner.root / "out" / "manifest.json").read_text())
    assert manifest["files"]["train.jsonl"]["records"] == 3


def test_dedup_runs_before_split_and_rejects_name_the_kept_copy(runner):
    runner.write("a.jsonl", corpus(100))
    stats, kept, rejects = runner.run(
        [{"path": "a.jsonl"}], steps=["exact_dedup"], split={"train": 0.5, "val": 0.25, "test": 0.25}
    )
    texts = [r["text"] for r in kept]
    assert len(texts) == len(set(texts)) == 91
    assert (
        rejects[0]["record"]
        == {"id": "a.jsonl:11", "text": texts[9], "label": "neg", "meta": {"source": "a.jsonl"}}
        or texts
    )
    assert rejects[0]["reason"] == "exact duplicate of a.jsonl:10" and rejects[0]["id"] == "a.jsonl:11"


def test_accounting_mismatch_fails_the_run(runner, monkeypatch):
    runner.write("a.jsonl", corpus(20))
    real = prep.count_lines
    monkeypatch.setattr(prep, "count_lines", lambda p: real(p) - (p.name == "train.jsonl"))
    with pytest.raises(RunFailed, match="accounting mismatch"):
        runner.run([{"path": "a.jsonl"}])


STEPS = [
    "fix_unicode",
    "normalize",
    "pii",
    "exact_dedup",
    {"near_dedup": {"threshold": 0.8}},
    {"length": {"min_words": 3}},
]


def _outputs(folder):
    return {n: (folder / n).read_bytes() for n in ("train.jsonl", "val.jsonl", "test.jsonl", "rejects.jsonl")}


def test_two_workers_give_the_same_bytes_as_one(runner, monkeypatch):
    import lmforge.data.sources as sources

    monkeypatch.setattr(sources, "SHARD_BYTES", 4096)  # several shards from one file
    runner.write("a.jsonl", corpus(400))
    runner.write("b.txt", "line one of the text file\n" * 3 + "another distinct line here\n")
    split = {"train": 0.8, "val": 0.1, "test": 0.1}
    src = [{"path": "a.jsonl"}, {"path": "b.txt", "unit": "line"}]
    one, _, _ = runner.run(src, steps=STEPS, split=split, out="w1", workers=1)
    two, _, _ = runner.run(src, steps=STEPS, split=split, out="w2", workers=2)
    assert two["workers"] == 2
    assert _outputs(runner.root / "w1") == _outputs(runner.root / "w2")
    strip = [{k: v for k, v in s.items() if k != "time_s"} for s in one["steps"]]
    assert strip == [{k: v for k, v in s.items() if k != "time_s"} for s in two["steps"]]


def test_kill_9_then_rerun_gives_identical_files(runner):
    rows = corpus(6000)
    runner.write("a.jsonl", rows)
    split = {"train": 0.8, "val": 0.1, "test": 0.1}
    runner.run([{"path": "a.jsonl"}], steps=STEPS, split=split, out="ref")
    cfg = runner.config([{"path": "a.jsonl"}], STEPS, out="out", split=split)
    # shards of 64 KiB so the kill lands between completion markers
    code = (
        "import lmforge.data.sources as s; s.SHARD_BYTES = 1 << 16; "
        f"from lmforge.data.prepare import prepare; prepare({str(cfg)!r}, quiet=True)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    work = runner.root / "out" / ".work" / "s0"
    deadline = time.time() + 60
    while time.time() < deadline and not (work.exists() and any(work.glob("*.done"))):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(work.glob("*.done")), "the run should have finished some shards before the kill"
    import lmforge.data.sources as s

    old, s.SHARD_BYTES = s.SHARD_BYTES, 1 << 16
    try:
        from lmforge.data.prepare import prepare

        prepare(cfg, quiet=True)
        prepare(runner.config([{"path": "a.jsonl"}], STEPS, out="ref", split=split), quiet=True)
    finally:
        s.SHARD_BYTES = old
    assert _outputs(runner.root / "out") == _outputs(runner.root / "ref")
    assert not (runner.root / "out" / ".work").exists()


def test_near_duplicates_across_files_and_shards_are_verified_exactly(runner):
    words = [f"token{i}" for i in range(80)]
    near = list(words)
    near[40] = "changed"
    runner.write(
        "a.jsonl",
        json.dumps({"text": " ".join(words)}) + "\n" + json.dumps({"text": "something else entirely"}) + "\n",
    )
    runner.write("b.jsonl", json.dumps({"text": " ".join(near)}) + "\n")
    stats, kept, rejects = runner.run([{"path": "*.jsonl"}], steps=["near_dedup"])
    a, b = set(), set()
    for i in range(76):
        a.add(" ".join(words[i : i + 5]))
        b.add(" ".join(near[i : i + 5]))
    assert [r["id"] for r in kept] == ["a.jsonl:1", "a.jsonl:2"]
    assert rejects[0]["id"] == "b.jsonl:1"
    assert rejects[0]["reason"] == f"near-duplicate of a.jsonl:1 (jaccard {len(a & b) / len(a | b):.2f})"
    assert stats["steps"][-1] == {
        "step": "near_dedup",
        "in": 3,
        "out": 2,
        "time_s": stats["steps"][-1]["time_s"],
        "reasons": {"near-duplicate": 1},
    }
