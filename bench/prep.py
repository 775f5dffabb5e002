"""Data prep: `lmforge prepare` vs datatrove's LocalPipelineExecutor, same steps, same corpus, 2 workers.

Steps, each side at its documented defaults: Gopher quality, Gopher repetition, C4, FineWeb, PII, exact
dedup, MinHash near-dedup. datatrove's dedups are its multi-stage pipelines (signature -> find/buckets ->
cluster -> filter), chained with `depends=` as its examples do. Also the scaling run (1x, 3x, 10x).

    python -m bench.prep --docs 20000 --reps 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import web_docs, write_jsonl_parts

STEPS = ["gopher_quality", "gopher_repetition", "c4", "fineweb", "pii", "exact_dedup", "near_dedup"]


def make_corpus(work: Path, n: int, parts: int = 4, seed: int = 0) -> Path:
    folder = work / f"corpus-{n}"
    if not (folder / "part0.jsonl").exists():
        write_jsonl_parts(web_docs(n, seed), folder, parts)
    return folder


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    work = Path(p["work"]) / "lmforge"
    data = {
        "sources": [{"path": str(Path(p["corpus"]) / "*.jsonl")}],
        "steps": STEPS,
        "workers": p["workers"],
    }
    stats, secs = harness.run_prepare(work, "bench", data)
    kept = []
    for split in ("train", "val", "test"):
        with (work / "out" / f"{split}.jsonl").open() as f:
            kept += [_doc_id(json.loads(line)) for line in f]
    _write_kept(p, "lmforge", kept)
    return {"seconds": secs, "docs": stats["read"], "docs_per_s": stats["read"] / secs, "kept": len(kept)}


def _doc_id(rec: dict[str, Any]) -> str:
    """`/x/corpus/part0.jsonl:17` -> `part0.jsonl:17` (lmforge's id is the source file and line)."""
    return Path(rec["id"]).name


def run_datatrove(p: dict[str, Any]) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    w = Path(p["work"]) / "datatrove"
    shutil.rmtree(w, ignore_errors=True)
    tasks, workers = p["tasks"], p["workers"]
    mh, ex = MinhashConfig(), ExactDedupConfig(content_getter=_content)

    def ex_(pipeline: list, n: int, name: str, dep: Any = None) -> LocalPipelineExecutor:
        return LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=n,
            workers=min(workers, n),
            logging_dir=str(w / "logs" / name),
            depends=dep,
        )

    t0 = time.perf_counter()
    s1 = ex_(
        [
            JsonlReader(p["corpus"]),
            GopherQualityFilter(),
            GopherRepetitionFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            PIIFormatter(),
            JsonlWriter(str(w / "filtered")),
        ],
        tasks,
        "filter",
    )
    s2 = ex_(
        [JsonlReader(str(w / "filtered")), ExactDedupSignature(str(w / "ex_sigs"), ex)], tasks, "ex1", s1
    )
    s3 = ex_([ExactFindDedups(str(w / "ex_sigs"), str(w / "ex_dups"), ex)], 1, "ex2", s2)
    s4 = ex_(
        [
            JsonlReader(str(w / "filtered")),
            ExactDedupFilter(str(w / "ex_dups"), ex),
            JsonlWriter(str(w / "exact")),
        ],
        tasks,
        "ex3",
        s3,
    )
    s5 = ex_([JsonlReader(str(w / "exact")), MinhashDedupSignature(str(w / "mh_sigs"), mh)], tasks, "mh1", s4)
    s6 = ex_(
        [MinhashDedupBuckets(str(w / "mh_sigs"), str(w / "mh_buckets"), config=mh)], mh.num_buckets, "mh2", s5
    )
    s7 = ex_([MinhashDedupCluster(str(w / "mh_buckets"), str(w / "mh_remove"), config=mh)], 1, "mh3", s6)
    s8 = ex_(
        [
            JsonlReader(str(w / "exact")),
            MinhashDedupFilter(str(w / "mh_remove")),
            JsonlWriter(str(w / "final")),
        ],
        tasks,
        "mh4",
        s7,
    )
    s8.run()
    secs = time.perf_counter() - t0
    kept = []
    for f in sorted((w / "final").glob("*.jsonl*")):
        with gzip.open(f, "rt") if f.suffix == ".gz" else f.open() as fh:
            kept += [json.loads(line)["id"] for line in fh]
    _write_kept(p, "datatrove", kept)
    return {"seconds": secs, "docs": p["n"], "docs_per_s": p["n"] / secs, "kept": len(kept)}


def _write_kept(p: dict[str, Any], who: str, kept: list[str]) -> None:
    (Path(p["work"]) / f"kept-{who}.txt").write_text("\n".join(sorted(kept)))


VARIANTS = {"lmforge": run_lmforge, "datatrove": run_datatrove}


def agreement(work: Path, corpus: Path) -> dict[str, float]:
    """Kept sets compared by document: datatrove keeps our `id`, lmforge names file and line."""
    where = {}
    for f in sorted(corpus.glob("part*.jsonl")):
        with f.open() as fh:
            where.update({json.loads(line)["id"]: f"{f.name}:{i}" for i, line in enumerate(fh, 1)})
    a = set((work / "kept-lmforge.txt").read_text().split())
    b = {where[d] for d in (work / "kept-datatrove.txt").read_text().split()}
    return {
        "jaccard": len(a & b) / max(1, len(a | b)),
        "only_lmforge": len(a - b),
        "only_datatrove": len(b - a),
        "both": len(a & b),
    }


def bench_prep(n: int, reps: int, work: Path, smoke: bool = False) -> dict[str, Any]:
    corpus = make_corpus(work, n)
    workers = 1 if smoke else 2  # one worker runs both sides in-process: no worker start-up in CI
    params = {
        "work": str(work),
        "corpus": str(corpus),
        "n": n,
        "workers": workers,
        "tasks": 4,
        "smoke": smoke,
    }
    runs = harness.interleave("prep", list(VARIANTS), params, reps)
    summary = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in ("docs_per_s", "peak_rss_mb", "wall_s")}
        for v, rs in runs.items()
    }
    summary["agreement"] = agreement(work, corpus)
    ratio = harness.paired_ratio(runs, "docs_per_s", "lmforge", "datatrove")
    summary["speedup_vs_datatrove"] = ratio
    ag = summary["agreement"]
    note = (
        f"{n} docs, 2 workers, {reps} reps; docs/s lmforge {harness.fmt(summary['lmforge']['docs_per_s'])} "
        f"vs datatrove {harness.fmt(summary['datatrove']['docs_per_s'])}; peak RSS MB "
        f"{summary['lmforge']['peak_rss_mb']['median']:.0f} vs {summary['datatrove']['peak_rss_mb']['median']:.0f}; "
        f"kept-set Jaccard {ag['jaccard']:.3f} (only lmforge {ag['only_lmforge']}, only datatrove "
        f"{ag['only_datatrove']})"
    )
    harness.save(
        "prep",
        params,
        runs,
        summary,
        [("prep docs/s vs datatrove", ">= 2x", ratio, ratio["median"] >= 2)],
        note,
    )
    return summary


def bench_scaling(
    n: int, reps: int, work: Path, factors: tuple[int, ...] = (1, 3, 10), smoke: bool = False
) -> dict[str, Any]:
    """lmforge prepare at n x each factor: time and peak memory (memory should stay flat)."""
    summary, runs = {}, {}
    for f in factors:
        corpus = make_corpus(work, n * f)
        params = {
            "work": str(work / f"x{f}"),
            "corpus": str(corpus),
            "n": n * f,
            "workers": 1 if smoke else 2,
            "smoke": smoke,
        }
        rs = harness.interleave("prep", ["lmforge"], params, reps)["lmforge"]
        runs[f"x{f}"] = rs
        summary[f"x{f}"] = {
            k: harness.summarize([r[k] for r in rs]) for k in ("seconds", "docs_per_s", "peak_rss_mb")
        }
    lo, hi = (
        summary[f"x{factors[0]}"]["peak_rss_mb"]["median"],
        summary[f"x{factors[-1]}"]["peak_rss_mb"]["median"],
    )
    growth = {"median": hi / lo, "min": hi / lo, "max": hi / lo}
    note = "; ".join(
        f"{k}: {v['seconds']['median']:.1f}s, {v['docs_per_s']['median']:.0f} docs/s, "
        f"peak RSS {v['peak_rss_mb']['median']:.0f} MB"
        for k, v in summary.items()
    )
    harness.save(
        "scaling",
        {"n": n, "factors": factors, "reps": reps, "smoke": smoke},
        runs,
        summary,
        [(f"peak RSS x{factors[-1]} / x{factors[0]}", "flat (<= 1.5)", growth, growth["median"] <= 1.5)],
        f"base {n} docs; " + note,
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scaling-docs", type=int, default=3000)
    ap.add_argument("--scaling-reps", type=int, default=1)
    ap.add_argument("--work", default="runs/bench/prep")
    ap.add_argument("--only", choices=["prep", "scaling"], default=None)
    a = ap.parse_args()
    work = Path(a.work).resolve()
    if a.only in (None, "prep"):
        print(json.dumps(bench_prep(a.docs, a.reps, work), indent=1, default=str))
    if a.only in (None, "scaling"):
        print(
            json.dumps(bench_scaling(a.scaling_docs, a.scaling_reps, work / "scaling"), indent=1, default=str)
        )


if __name__ == "__main__":
    main()


def _content(doc: Any) -> bytes:
    """datatrove's exact dedup hashes bytes."""
    return doc.text.encode("utf-8")
