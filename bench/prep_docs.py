"""Real documentation: `lmforge prepare` vs datatrove on the same Debian documentation pages, 2 workers each.

lmforge: steps `strip_html, gopher_repetition, gopher_quality, c4, fineweb, pii` (strip_html takes the main
content of each page, code in fences). datatrove: its `Trafilatura` extractor (its defaults: favour_precision,
deduplicate; timeout 10 s instead of 1 s so that no big page is lost to a busy machine) + GopherRepetition,
GopherQuality, C4Quality, FineWebQuality, PIIFormatter at their defaults; `LocalPipelineExecutor`, 4 tasks on
2 workers. Same JSONL parts (`{"id", "text": page}`) for both.

Pages (bench.real_corpora.debian_docs): the Python 3.11 documentation (python3.11-doc, Sphinx, 530 pages),
libxslt's and libffi's reference, valgrind's manual; `--pages` spreads a sample over them, `--repeat` writes
each page that many times (the issue's run: the Python docs 10 times).

Measured: records/s, pages kept (per group), 20 dropped pages of each side with their reasons, and for the
kept pages: lmforge's fenced code blocks byte-identical to a `<pre>` of their page (read with lxml, not
lmforge's code), and for both sides the `<pre>` texts found byte-exact in the output.

    python -m bench.prep_docs --pages 660 --reps 1
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.prep_html import code_blocks
from bench.real_corpora import SPHINX

DOCS = {  # group -> folder of a Debian package's HTML documentation
    "python": SPHINX,  # python3.11-doc
    "libxslt": "/usr/share/doc/libxslt1-dev/html",
    "valgrind": "/usr/share/doc/valgrind/html",
    "libffi": "/usr/share/doc/libffi8/html",
}
STEPS = ["strip_html", "gopher_repetition", "gopher_quality", "c4", "fineweb", "pii"]
_FENCE = re.compile(r"^(`{3,})[^`\n]*\n(.*?)\n\1$", re.M | re.S)  # html_extract.fence's shape


def debian_docs(pages: int | None = None) -> list[tuple[str, str]]:
    """(group/path, html) of every page found, or of `pages` of them spread evenly over the sorted list
    (the groups in proportion); empty when none of the packages is installed."""
    found = [
        (f"{group}/{path.relative_to(folder).as_posix()}", path)
        for group, folder in DOCS.items()
        for path in sorted(Path(folder).glob("**/*.html"))
    ]
    if pages and pages < len(found):
        found = [found[i * len(found) // pages] for i in range(pages)]
    return [(doc, path.read_text(encoding="utf-8", errors="replace")) for doc, path in found]


def make_corpus(work: Path, pages: int | None, repeat: int, parts: int, smoke: bool = False) -> Path:
    """work/corpus-N/part{k}.jsonl (`{"id": group/path, "text": html}`) and index.json: [[file, id], ...]
    per line, lmforge's ids (file:line) back to pages."""
    folder = work / f"corpus-{pages or 'all'}x{repeat}{'-smoke' if smoke else ''}"
    if (folder / "index.json").exists():
        return folder
    docs = debian_docs(pages)
    rows = [d for _ in range(repeat) for d in docs]
    folder.mkdir(parents=True, exist_ok=True)
    parts = min(parts, len(rows))
    size, index = -(-len(rows) // parts), []
    for k in range(parts):
        with (folder / f"part{k}.jsonl").open("w", encoding="utf-8") as f:
            for line, (doc_id, text) in enumerate(rows[k * size : (k + 1) * size], 1):
                f.write(json.dumps({"id": doc_id, "text": text}) + "\n")
                index.append([f"part{k}.jsonl:{line}", doc_id])
    (folder / "index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


def _pages(corpus: Path) -> dict[str, str]:
    out = {}
    for f in sorted(corpus.glob("part*.jsonl")):
        for line in f.open(encoding="utf-8"):
            d = json.loads(line)
            out[d["id"]] = d["text"]
    return out


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    work = Path(p["work"]) / "lmforge"
    stats, secs = harness.run_prepare(
        work,
        "bench-docs",
        {
            "sources": [{"path": str(Path(p["corpus"]) / "part*.jsonl")}],
            "steps": STEPS,
            "workers": p["workers"],
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
        },
    )
    where = dict(json.loads((Path(p["corpus"]) / "index.json").read_text()))
    kept = {}
    for line in (work / "out" / "train.jsonl").open(encoding="utf-8"):
        rec = json.loads(line)
        kept[Path(rec["id"]).name] = rec["text"]
    dropped = {}
    for line in (work / "out" / "rejects.jsonl").open(encoding="utf-8"):
        rec = json.loads(line)
        if Path(rec["id"]).name in where:  # not a whole-file reject (an empty part)
            dropped[Path(rec["id"]).name] = f"{rec['step']}: {rec['reason']}"
    strip = next(s for s in stats["steps"] if s["step"] == "strip_html")
    out = _result(p, {where[k]: t for k, t in kept.items()}, {where[k]: r for k, r in dropped.items()}, secs)
    return out | {"strip_html_cpu_s": strip["time_s"], **_fences(p, kept, where)}


def run_datatrove(p: dict[str, Any]) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
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

    def excluded(name: str) -> JsonlWriter:  # the dropped documents, with metadata["filter_reason"]
        return JsonlWriter(
            str(w / "excluded" / name), output_filename=f"{name}_${{rank}}.jsonl", compression=None
        )

    pipeline = [
        JsonlReader(p["corpus"], glob_pattern="part*.jsonl"),
        Trafilatura(timeout=10),
        GopherRepetitionFilter(exclusion_writer=excluded("gopher_repetition")),
        GopherQualityFilter(exclusion_writer=excluded("gopher_quality")),
        C4QualityFilter(exclusion_writer=excluded("c4")),
        FineWebQualityFilter(exclusion_writer=excluded("fineweb")),
        PIIFormatter(),
        JsonlWriter(str(w / "out"), compression=None),
    ]
    ex = LocalPipelineExecutor(
        pipeline=pipeline, tasks=p["tasks"], workers=p["workers"], logging_dir=str(w / "logs")
    )
    t0 = time.perf_counter()
    ex.run()
    secs = time.perf_counter() - t0
    kept = {}
    for f in sorted((w / "out").glob("*.jsonl")):
        kept.update({(d := json.loads(line))["id"]: d["text"] for line in f.open(encoding="utf-8")})
    dropped = {}
    for f in sorted((w / "excluded").glob("*/*.jsonl")):
        for line in f.open(encoding="utf-8"):
            d = json.loads(line)
            dropped[d["id"]] = f"{f.parent.name}: {d['metadata'].get('filter_reason')}"
    return _result(p, kept, dropped, secs)


def _result(p: dict[str, Any], kept: dict[str, str], dropped: dict[str, str], secs: float) -> dict[str, Any]:
    """Counts over the distinct pages (a repeated page is kept or dropped alike each time)."""
    pages = _pages(Path(p["corpus"]))
    for doc in pages:  # datatrove's extractor drops a page with no main content (or a timeout) unrecorded
        if doc not in kept and doc not in dropped:
            dropped[doc] = "extractor: no main content"
    groups = sorted({d.split("/")[0] for d in pages})
    rng = random.Random(0)
    sample = sorted(rng.sample(sorted(dropped), min(20, len(dropped))))
    records = sum(1 for f in Path(p["corpus"]).glob("part*.jsonl") for _ in f.open(encoding="utf-8"))
    exact = present = 0
    for doc, text in kept.items():
        blocks = [b.rstrip("\n") for b in code_blocks(pages[doc]) if b.strip()]
        present += len(blocks)
        exact += sum(b in text for b in blocks)
    return {
        "seconds": secs,
        "records": records,
        "records_per_s": records / secs,
        "pages": len(pages),
        "kept": len(kept),
        **{f"kept_{g}": sum(d.startswith(g + "/") for d in kept) for g in groups},
        "pre_in_kept": present,
        "pre_byte_exact_in_output": exact,
        "dropped_sample": [[d, dropped[d]] for d in sample],
    }


def _fences(p: dict[str, Any], kept: dict[str, str], where: dict[str, str]) -> dict[str, Any]:
    """lmforge's fenced blocks in its kept pages: how many are byte-identical to a `<pre>` of their page,
    how many differ from one only by the pii step's redactions (an email in an example: intended, counted
    apart, not as identical) and how many are damaged (neither)."""
    from lmforge.data.steps.pii import PLACEHOLDER, Pii

    pii, pages = Pii(), _pages(Path(p["corpus"]))
    kinds = dict.fromkeys(
        PLACEHOLDER, 0
    )  # redacted fences holding each kind (a phone in code is often a number)
    fences = identical = redacted = 0
    bad: list[str] = []
    for rid, text in kept.items():
        doc = where[rid]
        blocks = set(code_blocks(pages[doc]))
        masked = {m for b in blocks if (m := pii.redact(b, {})) != b}
        for m in _FENCE.finditer(text):
            # the fence's closing line takes the code's one final newline: `x\n` is fenced as `x`
            body = {m.group(2), m.group(2) + "\n"}
            fences += 1
            same = bool(body & blocks)
            identical += same
            if not same and body & masked:
                redacted += 1
                for kind, mark in PLACEHOLDER.items():
                    kinds[kind] += mark in m.group(2)
            if not same and not body & masked and len(bad) < 20:
                bad.append(f"{doc}: {m.group(2)[:80]!r}")
    return {
        "fences": fences,
        "fences_identical": identical,
        "fences_pii_redacted": redacted,
        **{f"fences_pii_{kind}": n for kind, n in kinds.items()},
        "fences_damaged": fences - identical - redacted,
        "fences_not_identical_sample": bad,
    }


VARIANTS = {"lmforge": run_lmforge, "datatrove": run_datatrove}


def bench_prep_docs(
    pages: int | None, reps: int, work: Path, repeat: int = 1, smoke: bool = False
) -> dict[str, Any]:
    corpus = make_corpus(work, pages, repeat, parts=4)
    params = {"work": str(work), "corpus": str(corpus), "workers": 2, "tasks": 4, "smoke": smoke}
    runs = harness.interleave("prep_docs", list(VARIANTS), params, reps)
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in rs[0] if _number(rs[0][k])}
        for v, rs in runs.items()
    }
    speed = harness.paired_ratio(runs, "records_per_s", "lmforge", "datatrove")
    kept = harness.paired_ratio(runs, "kept", "lmforge", "datatrove")
    summary["ratios"] = {"records_per_s": speed, "kept": kept}
    lm, dt = runs["lmforge"][-1], runs["datatrove"][-1]
    for side, r in (("lmforge", lm), ("datatrove", dt)):
        print(
            f"[prep_docs] {side}: {len(r['dropped_sample'])} of its {r['pages'] - r['kept']} dropped pages (seeded)"
        )
        for doc, why in r["dropped_sample"]:
            print(f"  {doc}: {why}")
    if lm["fences_not_identical_sample"]:
        print(
            "[prep_docs] lmforge fences damaged (not a <pre> of their page, nor one with pii's redactions):",
            *lm["fences_not_identical_sample"],
            sep="\n  ",
        )
    groups = [k[5:] for k in lm if k.startswith("kept_")]
    note = (
        f"{lm['records']} records ({lm['pages']} distinct pages of Debian documentation x {repeat}), 2 workers, "
        f"{reps} rep(s); records/s {harness.fmt(summary['lmforge']['records_per_s'])} vs "
        f"{harness.fmt(summary['datatrove']['records_per_s'])}; pages kept {lm['kept']} vs {dt['kept']} ("
        + ", ".join(f"{g} {lm['kept_' + g]}/{dt['kept_' + g]}" for g in groups)
        + f"); lmforge's fences: {lm['fences']}, byte-identical to a <pre> of their page {lm['fences_identical']}, "
        f"changed only by pii's redactions {lm['fences_pii_redacted']} (holding "
        + ", ".join(f"{k} {lm['fences_pii_' + k]}" for k in ("email", "ip", "phone", "credit_card", "iban"))
        + f"), damaged {lm['fences_damaged']}; "
        f"<pre> texts byte-exact in kept output {lm['pre_byte_exact_in_output']}/{lm['pre_in_kept']} vs "
        f"{dt['pre_byte_exact_in_output']}/{dt['pre_in_kept']}; strip_html {lm['strip_html_cpu_s']:.0f} CPU-s "
        f"({lm['strip_html_cpu_s'] / lm['records']:.3f} per record)"
    )
    fences_ok = lm["fences_damaged"] == 0
    targets = [
        ("records/s vs datatrove", ">= 2x", speed, speed["median"] >= 2),
        ("pages kept vs datatrove", ">= 1x", kept, kept["median"] >= 1),
        (
            "kept fences byte-identical to a <pre> (or changed only by pii's redactions)",
            "all",
            _share(lm["fences"] - lm["fences_damaged"], lm["fences"]),
            fences_ok,
        ),
    ]
    harness.save("prep_docs", params, runs, summary, targets, note)
    return summary


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _share(a: int, b: int) -> dict[str, float]:
    x = a / b if b else 1.0
    return {"median": x, "min": x, "max": x, "n": 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--pages", type=int, default=None, help="distinct pages, spread over the groups (default: all)"
    )
    ap.add_argument("--repeat", type=int, default=1, help="copies of each page (the issue's run: 10)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--work", default="runs/bench/prep_docs")
    a = ap.parse_args()
    s = bench_prep_docs(a.pages, a.reps, Path(a.work).resolve(), a.repeat)
    print(json.dumps(s, indent=1, default=str))


if __name__ == "__main__":
    main()
