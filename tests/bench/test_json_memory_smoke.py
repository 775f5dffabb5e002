"""bench/json_memory.py at 1 MB: the export is a JSON array of chats cut inside its last element, the CLI
runs at both worker settings, and peak RSS is measured per process (the numbers mean nothing here)."""

from __future__ import annotations

import json

from bench.json_memory import bench_json_memory, make_export

from bench import harness


def test_export_is_a_cut_off_array_of_chats(tmp_path):
    path = tmp_path / "e.json"
    assert make_export(path, 0.2, seed=1) == path.stat().st_size == int(0.2 * 2**20)
    text = path.read_text()
    assert text.startswith("[\n{") and not text.rstrip().endswith("]")
    first = json.loads(text[2 : text.index("\n", 2)].rstrip(","))
    assert [m["role"] for m in first["messages"][:2]] == ["user", "assistant"]
    make_export(tmp_path / "f.json", 0.2, seed=1)
    assert (tmp_path / "f.json").read_bytes() == path.read_bytes()  # seeded


def test_json_memory_smoke(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(harness, "RESULTS_MD", tmp_path / "RESULTS.md")
    runs = bench_json_memory(1, tmp_path / "w", smoke=True)
    assert set(runs) == {"default", "2"}
    for r in runs.values():
        assert r["read"] == r["kept"] + 1  # the cut-off last element is the one reject
        assert 0 < r["main_peak_mb"] < 1024
    assert json.loads((tmp_path / "results" / "json_memory.json").read_text())["targets"][0]["met"]
    assert not (tmp_path / "RESULTS.md").exists()  # smoke runs append no row
