"""Chinese data prep: `lmforge prepare` vs datatrove's LocalPipelineExecutor on a Chinese corpus, 2 workers.

The corpus is examples/chinese-reviews/generate_raw.py scaled up: each document one or two chats or
reviews with their answers (Gopher's 50-word minimum is met by ordinary text), one in ten planted junk
from the same generator (promotion lines pasted, menus, keyword stuffing, character soup). Same filters
on both sides: gopher_repetition and gopher_quality with FineWeb-2's Chinese thresholds (lmforge reads
them from lang_rules.py for Han text; datatrove gets the same numbers as arguments, and its `cmn_Hani`
word tokenizer, spaCy's Chinese with jieba; its `zh` code maps to spaCy's multi-language tokenizer).
Neither runs a language-ID model (datatrove's downloads one); lmforge picks Chinese by script.
Also lmforge's peak RSS at 1x and 10x.

    python -m bench.prep_zh --docs 5000 --reps 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import write_jsonl_parts
from bench.prep import _doc_id, _write_kept, agreement

STEPS = ["gopher_repetition", "gopher_quality"]
GENERATOR = Path(__file__).resolve().parents[1] / "examples" / "chinese-reviews" / "generate_raw.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("chinese_reviews_raw", GENERATOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def zh_docs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n documents `{"id": "zK", "text": ...}`: support threads, and one in ten planted junk.

    >>> len(zh_docs(20))
    20
    """
    g, rng = _generator(), random.Random(seed)
    docs = []
    for i in range(n):
        if rng.random() < 0.1:
            common = sorted(set("".join(g.PRAISE + g.COMPLAIN + g.USAGE)) - set("，。"))
            soup = "".join(rng.choice(common) for _ in range(rng.randint(150, 300)))
            text = rng.choice([*g.JUNK, soup])
        else:
            parts = []
            for _ in range(rng.randint(1, 2)):
                if rng.random() < 0.6:
                    r = g.qa(rng)
                    parts += [r["question"], r["answer"]]
                else:
                    r = g.review(rng)
                    parts += [r["review"], r["reply"]]
            text = "\n".join(parts)
        docs.append({"id": f"z{i}", "text": text})
    return docs


def make_corpus(work: Path, n: int, parts: int = 4) -> Path:
    folder = work / f"corpus-zh-{n}"
    if not (folder / "part0.jsonl").exists():
        write_jsonl_parts(zh_docs(n), folder, parts)
    return folder


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    work = Path(p["work"]) / "lmforge"
    data = {
        "sources": [{"path": str(Path(p["corpus"]) / "*.jsonl")}],
        "steps": STEPS,
        "workers": p["workers"],
    }
    stats, secs = harness.run_prepare(work, "bench-zh", data)
    kept = []
    for split in ("train", "val", "test"):
        with (work / "out" / f"{split}.jsonl").open() as f:
            kept += [_doc_id(json.loads(line)) for line in f]
    _write_kept(p, "lmforge", kept)
    return {"seconds": secs, "docs": stats["read"], "docs_per_s": stats["read"] / secs, "kept": len(kept)}


def datatrove_filters() -> list[Any]:
    """datatrove's two Gopher filters with the thresholds lmforge uses for Chinese (lang_rules.py)."""
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    from lmforge.data.steps.lang_rules import GOPHER_QUALITY, GOPHER_REPETITION

    rep, q = GOPHER_REPETITION["zh"], GOPHER_QUALITY["zh"]
    return [
        GopherRepetitionFilter(
            dup_line_frac=rep["dup_line_frac"],
            top_n_grams=tuple(rep["top_n_grams"].items()),
            dup_n_grams=tuple(rep["dup_n_grams"].items()),
            language="cmn_Hani",
        ),
        GopherQualityFilter(
            min_avg_word_length=q["min_avg_word_length"],
            max_avg_word_length=q["max_avg_word_length"],
            max_non_alpha_words_ratio=q["min_alpha_words_ratio"],  # datatrove's name for the same rule
            stop_words=q["stop_words"],
            language="cmn_Hani",
        ),
    ]


def run_datatrove(p: dict[str, Any]) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    w = Path(p["work"]) / "datatrove"
    shutil.rmtree(w, ignore_errors=True)
    t0 = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=[JsonlReader(p["corpus"]), *datatrove_filters(), JsonlWriter(str(w / "final"))],
        tasks=p["tasks"],
        workers=min(p["workers"], p["tasks"]),
        logging_dir=str(w / "logs"),
    ).run()
    secs = time.perf_counter() - t0
    kept = []
    import gzip

    for f in sorted((w / "final").glob("*.jsonl*")):
        with gzip.open(f, "rt") if f.suffix == ".gz" else f.open() as fh:
            kept += [json.loads(line)["id"] for line in fh]
    _write_kept(p, "datatrove", kept)
    return {"seconds": secs, "docs": p["n"], "docs_per_s": p["n"] / secs, "kept": len(kept)}


VARIANTS = {"lmforge": run_lmforge, "datatrove": run_datatrove}


def bench_prep_zh(n: int, reps: int, work: Path, factor: int = 10, smoke: bool = False) -> dict[str, Any]:
    """Both sides at n docs; lmforge alone at n * factor (peak RSS should stay flat)."""
    corpus = make_corpus(work, n)
    workers = 1 if smoke else 2
    params = {
        "work": str(work),
        "corpus": str(corpus),
        "n": n,
        "workers": workers,
        "tasks": 4,
        "smoke": smoke,
    }
    runs = harness.interleave("prep_zh", list(VARIANTS), params, reps)
    keys = ("docs_per_s", "peak_rss_mb", "wall_s")
    summary = {v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()}
    summary["agreement"] = agreement(work, corpus)
    big = {**params, "work": str(work / f"x{factor}"), "n": n * factor}
    big["corpus"] = str(make_corpus(work, n * factor))
    runs[f"lmforge_x{factor}"] = harness.interleave("prep_zh", ["lmforge"], big, 1)["lmforge"]
    summary[f"lmforge_x{factor}"] = {
        k: harness.summarize([r[k] for r in runs[f"lmforge_x{factor}"]]) for k in keys
    }
    ratio = harness.paired_ratio(runs, "docs_per_s", "lmforge", "datatrove")
    summary["speedup_vs_datatrove"] = ratio
    ag, lm, xl = summary["agreement"], summary["lmforge"], summary[f"lmforge_x{factor}"]
    note = (
        f"Chinese, {n} docs (1-2 support chats or reviews each, 10% junk), "
        "gopher_repetition + gopher_quality (zh thresholds), "
        f"{workers} workers, {reps} reps; docs/s lmforge {harness.fmt(lm['docs_per_s'])} vs datatrove "
        f"{harness.fmt(summary['datatrove']['docs_per_s'])}; kept-set Jaccard {ag['jaccard']:.3f} (only "
        f"lmforge {ag['only_lmforge']}, only datatrove {ag['only_datatrove']}); lmforge peak RSS MB "
        f"{lm['peak_rss_mb']['median']:.0f} at 1x, {xl['peak_rss_mb']['median']:.0f} at {factor}x "
        f"({n * factor} docs, {xl['docs_per_s']['median']:.0f} docs/s)"
    )
    harness.save(
        "prep_zh",
        params,
        runs,
        summary,
        [("prep zh docs/s vs datatrove", ">= 2x", ratio, ratio["median"] >= 2)],
        note,
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--work", default="runs/bench/prep_zh")
    a = ap.parse_args()
    summary = bench_prep_zh(a.docs, a.reps, Path(a.work).resolve(), a.factor)
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
