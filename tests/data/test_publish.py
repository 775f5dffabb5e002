"""The accounting check (read = kept + rejected) runs on the staged outputs, before they are published:
a mismatch leaves the previous outputs in data.output_dir as they were and exits 1."""

from __future__ import annotations

import json

import lmforge.data.prepare as prep
from lmforge.cli import main

PUBLISHED = ("train.jsonl", "val.jsonl", "test.jsonl", "rejects.jsonl", "stats.json", "manifest.json")


def _rows(n: int) -> str:
    return "".join(json.dumps({"text": f"record {i} says something"}) + "\n" for i in range(n))


def test_a_mismatch_publishes_nothing_and_the_previous_outputs_stay(runner, monkeypatch, capsys):
    runner.write("a.jsonl", _rows(20))
    cfg = runner.config([{"path": "a.jsonl"}])
    assert main(["prepare", str(cfg)]) == 0
    before = {n: (runner.root / "out" / n).read_bytes() for n in PUBLISHED}
    real = prep.assemble

    def loses_a_record(work, n_stages, n_shards, split, stratify, out_dir):  # a writer's bug, planted
        counts = real(work, n_stages, n_shards, split, stratify, out_dir)
        train = out_dir / "train.jsonl"
        train.write_text("".join(train.read_text().splitlines(keepends=True)[:-1]))
        return counts

    monkeypatch.setattr(prep, "assemble", loses_a_record)
    runner.write("a.jsonl", _rows(30))  # the next run's input
    capsys.readouterr()
    assert main(["prepare", str(cfg)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lmforge prepare: accounting mismatch: read 30 != kept 29 + rejected 0"), err
    assert "nothing published" in err
    assert {n: (runner.root / "out" / n).read_bytes() for n in PUBLISHED} == before
    monkeypatch.setattr(prep, "assemble", real)  # the bug fixed: the rerun publishes
    assert main(["prepare", str(cfg)]) == 0
    assert len(runner.read("out/train.jsonl")) == 30
    manifest = json.loads((runner.root / "out" / "manifest.json").read_text())
    assert manifest["files"]["train.jsonl"]["records"] == 30 and manifest["accounting"]["ok"]
    assert not (runner.root / "out" / ".work").exists()
