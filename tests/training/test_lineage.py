"""Lineage (issue #32): final/lmforge.json hashes the data, config and base; `lmforge verify` re-hashes them.

Through the CLI on a tiny Llama copied per module (its weights are edited here): a short LoRA SFT run, then
one byte of train.jsonl, of the base's weights, of a parent adapter changed on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from train_helpers import write_sft_project

from lmforge.cli.main import main

FAST = ["train.max_steps=2", "train.eval_every=0"]


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


@pytest.fixture
def project(tiny_llama, tmp_path, monkeypatch):
    """(exp.yaml, run folder, base folder): a trained run whose base is a copy this test may change."""
    monkeypatch.setenv("LMFORGE_HOME", str(tmp_path / "home"))  # the hash cache, empty for each test
    base = Path(shutil.copytree(tiny_llama, tmp_path / "base"))
    exp = write_sft_project(tmp_path / "p", str(base))
    assert main(["train", str(exp), *FAST]) == 0
    return exp, tmp_path / "p" / "run", base


def test_lmforge_json_records_hashes_and_versions(project):
    exp, run, base = project
    lineage = json.loads((run / "final" / "lmforge.json").read_text())["lineage"]
    train = exp.parent / "data" / "train.jsonl"
    assert lineage["data"]["files"]["train.jsonl"]["sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
    assert set(lineage["data"]["files"]) == {"train.jsonl", "val.jsonl"}  # the files there, no test split
    weights = base / "model.safetensors"
    assert (
        lineage["base"]["files"]["model.safetensors"]["sha256"]
        == hashlib.sha256(weights.read_bytes()).hexdigest()
    )
    assert set(lineage["versions"]) == {"lmforge", "torch", "transformers", "peft"}
    assert all(lineage["versions"].values())
    cache = json.loads((Path(os.environ["LMFORGE_HOME"]) / "hashes.json").read_text())
    assert any(key.startswith(str(weights.resolve()) + "|") for key in cache)  # hashed once, then looked up


def test_verify_passes_then_names_the_changed_train_file(project, capsys):
    _, run, _ = project
    assert main(["verify", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("verified: 4 files, base ")  # base weights, train, val, config
    _flip_last_byte(project[0].parent / "data" / "train.jsonl")
    assert main(["verify", str(run)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("train.jsonl changed (sha256 recorded ")
    assert len(captured.out.splitlines()) == 1  # only that file
    assert "1 of the run's inputs changed" in captured.err


def test_verify_names_a_missing_file_and_an_edited_config(project, capsys):
    exp, run, _ = project
    (exp.parent / "data" / "val.jsonl").unlink()
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("seed: 42", "seed: 43"))
    assert main(["verify", str(run)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["val.jsonl missing", lines[1]] and lines[1].startswith("config.yaml changed")


def test_eval_refuses_a_changed_base(project, capsys):
    exp, run, base = project
    _flip_last_byte(base / "model.safetensors")
    assert main(["eval", str(exp), "--split", "val"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "refusing to compare" in err and "model.safetensors changed" in err
    assert main(["verify", str(run)]) == 1
    assert "model.safetensors changed" in capsys.readouterr().out


def test_chain_records_and_checks_its_parent(project, capsys):
    exp, sft, _ = project
    second = exp.parent / "second"
    assert main(["train", str(exp), f"model.name={sft}", f"train.output_dir={second}", *FAST]) == 0
    meta = json.loads((second / "final" / "lmforge.json").read_text())
    adapter = sft / "final" / "adapter_model.safetensors"
    assert meta["chain"]["adapter_sha256"] == hashlib.sha256(adapter.read_bytes()).hexdigest()
    assert main(["verify", str(second)]) == 0
    assert "verified: 5 files" in capsys.readouterr().out  # + the parent adapter
    _flip_last_byte(adapter)
    assert main(["verify", str(second)]) == 1
    assert capsys.readouterr().out.startswith(f"parent adapter {adapter} changed")
    assert main(["eval", str(exp), f"model.name={sft}", f"train.output_dir={second}", "--split", "val"]) == 2
    assert "parent adapter" in capsys.readouterr().err
