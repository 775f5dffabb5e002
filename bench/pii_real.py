"""What the pii step redacts in real text, by kind, with samples: numbers and versions in code and docs taken
for personal data (false positives), and the real addresses it must still find.

Corpora (none written for lmforge):
- stdlib: `--files` .py files of Python's standard library (/usr/lib/python3.11, spread evenly over the
  sorted list), each file one code text;
- docs: `--pages` pages of python3.11-doc's HTML through `strip_html` (prose, code in fences), as prepare
  hands them to pii;
- package_text: every /usr/share/doc/*/copyright file (authors' emails, some office phones) and git's
  release notes (/usr/share/doc/git/RelNotes: versions such as `Git 1.8.1.4` that look like addresses);
- bfcl: examples/tools/raw (real BFCL questions in OpenAI and ShareGPT exports), each record whole: the
  question, the calls' arguments, the tool results.

Each redaction is printed with the text around it, so a reader can judge it.

    python -m bench.pii_real --files 200 --pages 200 --samples 15 --out /tmp/pii_after.json
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.real_corpora import SPHINX
from lmforge.data.record import Record, to_record
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.steps.pii import PLACEHOLDER

STDLIB = Path("/usr/lib/python3.11")
GIT_NOTES = "/usr/share/doc/git/RelNotes"
TOOLS = Path(__file__).resolve().parent.parent / "examples" / "tools" / "raw"
_KIND_OF = {v: k for k, v in PLACEHOLDER.items()}
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDER.values()))


def spread(paths: list[Path], n: int) -> list[Path]:
    return paths if n >= len(paths) else [paths[i * len(paths) // n] for i in range(n)]


def stdlib_texts(n: int) -> list[tuple[str, str]]:
    paths = spread(sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts), n)
    return [(str(p.relative_to(STDLIB)), p.read_text(encoding="utf-8", errors="replace")) for p in paths]


def doc_texts(n: int) -> list[tuple[str, str]]:
    """Pages after strip_html (pii's input in prepare); empty when python3.11-doc is missing."""
    strip = build_steps(["strip_html"], StepContext())[0]
    out = []
    for path in spread(sorted(Path(SPHINX).glob("**/*.html")), n):
        rec = Record(id=path.name, fields={"text": path.read_text(encoding="utf-8", errors="replace")})
        if strip.process(rec) is True:
            out.append((str(path.relative_to(SPHINX)), rec.fields["text"]))
    return out


def package_texts() -> list[tuple[str, str]]:
    paths = sorted(Path("/usr/share/doc").glob("*/copyright")) + sorted(Path(GIT_NOTES).glob("*.txt"))
    return [
        (str(p.relative_to("/usr/share/doc")), p.read_text(encoding="utf-8", errors="replace")) for p in paths
    ]


def bfcl_records() -> list[Record]:
    rows = [json.loads(line) for line in (TOOLS / "openai_export.jsonl").read_text().splitlines() if line]
    shared = json.loads((TOOLS / "sharegpt_export.json").read_text())
    recs = []
    for i, row in enumerate(rows + shared):
        mapping = {"messages": "conversations" if "conversations" in row else "messages"}
        rec = to_record(f"bfcl:{i}", row, mapping, "sft", {})
        if isinstance(rec, Record):
            recs.append(rec)
    return recs


def redactions(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, what was replaced, in its context) for each placeholder `after` holds and `before` did not."""
    out = []
    old, new = before.split("\n"), after.split("\n")
    if len(old) != len(new):  # a placeholder never holds a newline, a redacted phone may have spanned one
        old, new = [before], [after]
    for a_line, b_line in zip(old, new, strict=True):
        if a_line == b_line:
            continue  # lines compared apart: a char-level diff of a whole 100 kB file is quadratic
        ops = difflib.SequenceMatcher(None, a_line, b_line, autojunk=False).get_opcodes()
        for tag, a0, a1, b0, b1 in ops:
            for m in _PLACEHOLDER.finditer(b_line, b0, b1) if tag == "replace" else []:
                context = a_line[max(0, a0 - 40) : a1 + 40]
                out.append((_KIND_OF[m.group(0)], f"{a_line[a0:a1]!r} in ...{context}..."))
    return out


def slots(rec: Record, fields: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, text) of each part of a conversation record: turn text, call arguments as JSON."""
    out = []
    for i, m in enumerate(fields.get("messages", [])):
        out.append((f"{m['role']} {i}", m.get("content") or ""))
        for call in m.get("tool_calls") or []:
            out.append((f"arguments {i}", json.dumps(call["function"]["arguments"], ensure_ascii=False)))
    return out


def run_texts(pii: Any, texts: list[tuple[str, str]]) -> dict[str, Any]:
    kinds: Counter = Counter()
    samples: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    changed = 0
    for name, text in texts:
        rec = Record(id=name, fields={"text": text})
        pii.process(rec)
        found = redactions(text, rec.fields["text"])
        changed += bool(found)
        for kind, where in found:
            kinds[kind] += 1
            samples.setdefault(kind, []).append(f"{name}: {where}")
    secs = time.perf_counter() - t0
    return {"texts": len(texts), "changed": changed, "kinds": dict(kinds), "samples": samples, "secs": secs}


def run_records(pii: Any, recs: list[Record]) -> dict[str, Any]:
    kinds: Counter = Counter()
    samples: dict[str, list[str]] = {}
    valid = 0
    for rec in recs:
        before = json.loads(json.dumps(rec.fields))
        pii.process(rec)
        for (where, old), (_, new) in zip(slots(rec, before), slots(rec, rec.fields), strict=True):
            for kind, what in redactions(old, new):
                kinds[f"{kind} ({where.split()[0]})"] += 1
                samples.setdefault(kind, []).append(f"{rec.id} {where}: {what}")
        valid += all(  # every call's arguments still a JSON object, its keys as they were
            isinstance(c["function"]["arguments"], dict)
            for m in rec.fields["messages"]
            for c in m.get("tool_calls") or []
        )
    return {"records": len(recs), "arguments_objects": valid, "kinds": dict(kinds), "samples": samples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    pii = build_steps(["pii"], StepContext())[0]
    result = {
        "stdlib": run_texts(pii, stdlib_texts(a.files)),
        "docs": run_texts(pii, doc_texts(a.pages)),
        "package_text": run_texts(pii, package_texts()),
        "bfcl": run_records(pii, bfcl_records()),
    }
    for corpus, r in result.items():
        head = {k: v for k, v in r.items() if k != "samples"}
        print(f"[pii_real] {corpus}: {json.dumps(head)}")
        for kind, found in r["samples"].items():
            for line in found[: a.samples]:
                print(f"    {kind}: {line[:220]}")
    if a.out:  # counts, and the first `--samples` redactions of each kind
        for r in result.values():
            r["samples"] = {kind: found[: a.samples] for kind, found in r["samples"].items()}
        a.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
