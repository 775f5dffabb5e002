"""bench/prep_docs.py at a few pages, one repetition, in this process: the script stays alive and its
quality figures are sane (numbers mean nothing at this size)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("datatrove")
pytest.importorskip("trafilatura")

from bench.prep_docs import bench_prep_docs, debian_docs  # noqa: E402

from bench import harness  # noqa: E402


@pytest.fixture(autouse=True)
def results_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(harness, "RESULTS_MD", tmp_path / "RESULTS.md")


def test_prep_docs_smoke(tmp_path):
    if not debian_docs(1):
        pytest.skip("no Debian documentation installed (make browser installs python3.11-doc)")
    s = bench_prep_docs(6, 1, tmp_path / "w", smoke=True)
    lm, dt = s["lmforge"], s["datatrove"]
    assert lm["records"]["median"] == dt["records"]["median"] == 6
    assert lm["records_per_s"]["median"] > 0 and dt["records_per_s"]["median"] > 0
    assert lm["fences_damaged"]["median"] == 0  # every kept code block byte-exact or only redacted by pii
    assert lm["fences_identical"]["median"] + lm["fences_pii_redacted"]["median"] == lm["fences"]["median"]
    saved = json.loads((tmp_path / "results" / "prep_docs.json").read_text())
    run = saved["runs"]["lmforge"][0]
    assert len(run["dropped_sample"]) == min(20, run["pages"] - run["kept"])
    assert all(why for _, why in run["dropped_sample"])  # each dropped page with its reason
    assert not (tmp_path / "RESULTS.md").exists()  # smoke runs append no row
