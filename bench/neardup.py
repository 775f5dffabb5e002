"""Near-dup alone: lmforge's near_dedup vs datasketch MinHashLSH, same parameters, on a planted set.

Both sides: word 5-grams of the same normalised text, 128 permutations, threshold 0.8, the same
(bands, rows), a candidate confirmed when its estimated Jaccard >= 0.8, the first occurrence kept.
datasketch is used as its docs show: `MinHash.bulk` for the signatures, then `query` + `insert` per
document in order. Truth: exact Jaccard of the shingle sets against every earlier document of the same
planted cluster (unrelated documents share no 5-gram here), so precision and recall are exact.

    python -m bench.neardup --docs 30000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import web_docs

THRESHOLD, NGRAM, NUM_PERM = 0.8, 5, 128


def _load(p: dict[str, Any]) -> list[dict[str, Any]]:
    with open(p["docs_file"]) as f:
        return [json.loads(line) for line in f]


def _dedup_step() -> Any:
    from lmforge.data.steps import StepContext
    from lmforge.data.steps.dedup import NearDedup

    return NearDedup(threshold=THRESHOLD, ngram=NGRAM, num_perm=NUM_PERM, ctx=StepContext())


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    docs = _load(p)
    step = _dedup_step()
    texts, ids = [d["text"] for d in docs], [d["id"] for d in docs]
    t0 = time.perf_counter()
    keys = step.keys(texts)  # (n, 128) uint32
    removed = set(step.decide(keys, ids))
    secs = time.perf_counter() - t0
    return {"seconds": secs, "docs_per_s": len(docs) / secs, **score(docs, removed, step)}


def run_datasketch(p: dict[str, Any]) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSH

    docs = _load(p)
    step = _dedup_step()  # only for the identical shingling and (bands, rows)
    t0 = time.perf_counter()
    shingles = [[s.encode("utf-8") for s in step.shingles(d["text"])] for d in docs]
    sigs = MinHash.bulk(shingles, num_perm=NUM_PERM)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=(step.bands, step.rows))
    removed = set()
    for i, m in enumerate(sigs):
        if any(sigs[c].jaccard(m) >= THRESHOLD for c in lsh.query(m)):
            removed.add(i)
        lsh.insert(i, m)
    secs = time.perf_counter() - t0
    return {"seconds": secs, "docs_per_s": len(docs) / secs, **score(docs, removed, step)}


VARIANTS = {"lmforge": run_lmforge, "datasketch": run_datasketch}


def truth(docs: list[dict[str, Any]], step: Any) -> set[int]:
    """Indices whose exact shingle-set Jaccard with an earlier member of their cluster is >= threshold."""
    root = {}
    for d in docs:  # a copy's cluster is its source's cluster
        root[d["id"]] = root.get(d["of"], d["id"]) if d["of"] else d["id"]
    clusters: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        clusters.setdefault(root[d["id"]], []).append(i)
    dups = set()
    for members in clusters.values():
        sets = [set(step.shingles(docs[i]["text"])) for i in members]
        for k in range(1, len(members)):
            if any(len(sets[k] & sets[j]) / len(sets[k] | sets[j]) >= THRESHOLD for j in range(k)):
                dups.add(members[k])
    return dups


def score(docs: list[dict[str, Any]], removed: set[int], step: Any) -> dict[str, float]:
    true = truth(docs, step)
    tp = len(removed & true)
    return {
        "removed": len(removed),
        "true_dups": len(true),
        "precision": tp / max(1, len(removed)),
        "recall": tp / max(1, len(true)),
    }


def bench_neardup(n: int, reps: int, work: Path, smoke: bool = False) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    docs_file = work / f"planted-{n}.jsonl"
    if not docs_file.exists():
        docs = [d for d in web_docs(n, seed=1, dup_rate=0.05, near_rate=0.3) if d["kind"] != "junk"]
        docs_file.write_text("".join(json.dumps(d) + "\n" for d in docs))
    params = {"docs_file": str(docs_file), "n": n, "smoke": smoke}
    runs = harness.interleave("neardup", list(VARIANTS), params, reps)
    keys = ("docs_per_s", "peak_rss_mb", "precision", "recall")
    summary = {v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()}
    ratio = harness.paired_ratio(runs, "docs_per_s", "lmforge", "datasketch")
    summary["speedup_vs_datasketch"] = ratio
    s = summary
    note = (
        f"{n} docs (~33% planted copies), 5-grams, 128 perm, threshold 0.8, {reps} reps; docs/s "
        f"{harness.fmt(s['lmforge']['docs_per_s'])} vs {harness.fmt(s['datasketch']['docs_per_s'])}; "
        f"peak RSS MB {s['lmforge']['peak_rss_mb']['median']:.0f} vs {s['datasketch']['peak_rss_mb']['median']:.0f}; "
        f"precision/recall lmforge {s['lmforge']['precision']['median']:.3f}/{s['lmforge']['recall']['median']:.3f}, "
        f"datasketch {s['datasketch']['precision']['median']:.3f}/{s['datasketch']['recall']['median']:.3f}"
    )
    harness.save(
        "neardup",
        params,
        runs,
        summary,
        [("near-dup docs/s vs datasketch", ">= 5x", ratio, ratio["median"] >= 5)],
        note,
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", default="runs/bench/neardup")
    a = ap.parse_args()
    print(json.dumps(bench_neardup(a.docs, a.reps, Path(a.work).resolve()), indent=1, default=str))


if __name__ == "__main__":
    main()
