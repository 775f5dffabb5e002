"""HTML documentation pages: lmforge (strip_html's main-content extraction + gopher_repetition) vs datatrove
(its Trafilatura extractor + GopherRepetitionFilter) on the same pages: pages kept, docs/s, and how many
code blocks of the kept pages come out with their indentation (and byte-exact).

Pages: real documentation found on this machine (rustdoc's std reference, Node.js API, npm command
reference, httplib2's reference; the Rust book and the valgrind manual as guides), plus Sphinx-style
Python reference pages generated from the standard library (each function's docstring and its real
source, highlighted by Pygments, with Sphinx's navigation bar, sidebar and footer). No internet needed.

    python -m bench.prep_html --pages 600 --reps 2
"""

from __future__ import annotations

import argparse
import ast
import glob
import html as htmllib
import importlib
import inspect
import json
import shutil
import textwrap
import time
from pathlib import Path
from typing import Any

from bench import harness

RUST = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html"
REAL = {  # group -> (reference?, globs)
    "rust_std": (
        True,
        [f"{RUST}/std/*/index.html", f"{RUST}/std/*/struct.*.html", f"{RUST}/std/*/trait.*.html"],
    ),
    "node_api": (True, ["/usr/share/doc/nodejs/api/*.html"]),
    "npm_cli": (True, ["/usr/lib/node_modules/npm/docs/output/commands/*.html"]),
    "httplib2": (True, ["/usr/lib/google-cloud-sdk/platform/gsutil/third_party/httplib2/ref/*.html"]),
    "rust_book": (False, [f"{RUST}/book/ch*.html"]),
    "valgrind": (False, ["/usr/share/doc/valgrind/html/*.html"]),
}
PY_MODULES = (
    "textwrap difflib json.decoder json.encoder functools heapq bisect fnmatch glob shlex string "
    "calendar csv configparser argparse base64 copy dataclasses enum fractions gettext gzip hashlib hmac "
    "inspect ipaddress locale logging mimetypes ntpath numbers optparse pathlib pickle pprint queue "
    "quopri random reprlib sched secrets selectors shutil smtplib socket statistics tarfile tempfile "
    "threading timeit tokenize traceback types urllib.parse uuid warnings weakref zipfile"
).split()
MAX_BYTES = 2_000_000  # Node's all.html (10 MB) is every page again


def make_corpus(work: Path, pages: int, smoke: bool = False) -> Path:
    """work/corpus-N/pages/<group>/<name>.html, and corpus.jsonl: the same pages for datatrove's reader."""
    folder = work / f"corpus-{pages}{'-smoke' if smoke else ''}"
    if (folder / "corpus.jsonl").exists():
        return folder
    groups = {"python_ref": _python_pages(max(2, pages // 8))}
    if smoke:  # CI: the fixtures and a few generated pages, whatever is installed on the machine
        fixtures = Path(__file__).resolve().parents[1] / "tests/data/fixtures/html"
        groups["fixtures"] = {p.name: p.read_text(encoding="utf-8") for p in sorted(fixtures.glob("*.html"))}
    else:
        for group, (_, globs) in REAL.items():
            files = sorted({f for g in globs for f in glob.glob(g) if Path(f).stat().st_size < MAX_BYTES})
            step = max(1, len(files) // max(1, pages // len(REAL)))  # spread over the folder, not a-b only
            groups[group] = {
                _flat(f): Path(f).read_text(encoding="utf-8", errors="replace") for f in files[::step]
            }
    with _open(folder / "corpus.jsonl") as out:
        for group, items in groups.items():
            for name, text in items.items():
                (folder / "pages" / group).mkdir(parents=True, exist_ok=True)
                (folder / "pages" / group / name).write_text(text, encoding="utf-8")
                out.write(json.dumps({"id": f"{group}/{name}", "text": text}) + "\n")
    return folder


def _open(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


def _flat(path: str) -> str:
    return "_".join(Path(path).parts[-2:])


def _python_pages(n: int) -> dict[str, str]:
    """Sphinx-like reference pages of stdlib modules: docstrings and real source as examples."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        def code(src: str) -> str:
            return highlight(src, PythonLexer(), HtmlFormatter(nowrap=True))
    except ImportError:  # plain escaped code: still a <pre> with indentation
        code = htmllib.escape
    pages = {}
    for name in PY_MODULES[:n]:
        mod = importlib.import_module(name)
        funcs = [f for k, f in sorted(vars(mod).items()) if inspect.isfunction(f) and f.__module__ == name]
        funcs = [f for f in funcs if not f.__name__.startswith("_") and f.__doc__][:6]
        body = [f"<h1>{name} — {htmllib.escape((mod.__doc__ or name).strip().splitlines()[0])}</h1>"]
        body += [f"<p>{htmllib.escape(p)}</p>" for p in (mod.__doc__ or "").split("\n\n")[1:4]]
        for f in funcs:
            try:
                src = _without_docstring(inspect.getsource(f))
            except (OSError, TypeError, SyntaxError):
                continue
            body.append(f'<dl class="py function"><dt>{name}.{f.__name__}{inspect.signature(f)}</dt>')
            body += [f"<dd><p>{htmllib.escape(p)}</p></dd>" for p in inspect.getdoc(f).split("\n\n")[:3]]
            body.append('</dl><div class="highlight-python3 notranslate">')
            body.append(f'<div class="highlight"><pre><span></span>{code(src)}</pre></div></div>')
        toc = "".join(f'<li><a href="#{name}.{f.__name__}">{f.__name__}()</a></li>' for f in funcs)
        pages[f"{name}.html"] = SPHINX.format(name=name, body="\n".join(body), toc=toc)
    return pages


def _without_docstring(src: str) -> str:
    """A function's source less its docstring (the page shows the docstring as prose already)."""
    fn = ast.parse(textwrap.dedent(src)).body[0]
    first = fn.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(fn.body) > 1):
        return src
    lines = src.splitlines(keepends=True)
    return "".join(lines[: first.lineno - 1] + lines[first.end_lineno :])


SPHINX = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{name} &#8212; Python 3 docs</title>
<link rel="stylesheet" href="../_static/pygments.css"></head><body>
<div class="related" role="navigation"><h3>Navigation</h3><ul><li class="right"><a href="../genindex.html">index</a></li>
<li class="right"><a href="../py-modindex.html">modules</a> |</li><li class="right"><a href="next.html">next</a> |</li>
<li class="right"><a href="prev.html">previous</a> |</li><li><a href="../index.html">Python 3 documentation</a> &#187;</li>
<li><a href="index.html">The Python Standard Library</a> &#187;</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body" role="main">
<section id="module-{name}">{body}</section></div></div></div>
<div class="sphinxsidebar" role="navigation"><div class="sphinxsidebarwrapper"><h3>Table of Contents</h3><ul>{toc}</ul>
<h3>This Page</h3><ul><li><a href="../bugs.html">Report a Bug</a></li><li><a href="../_sources/{name}.rst.txt">Show Source</a></li></ul>
<div id="searchbox" role="search"><h3>Quick search</h3><form class="search" action="../search.html"><input type="text" name="q">
<input type="submit" value="Go"></form></div></div></div></div>
<div class="footer">&copy; Copyright 2001-2024, Python Software Foundation. Created using Sphinx 7.2.6.</div></body></html>"""


def code_blocks(page: str) -> list[str]:
    """Each <pre>'s text as shown (the newline after <pre> dropped), read with lxml (not lmforge's code)."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(page.encode("utf-8"))
    except Exception:
        return []
    out = []
    for pre in tree.iter("pre"):
        for b in pre.iter("button", "input"):
            b.drop_tree()
        parts = [c for c in pre if c.tag == "code"]
        # several <code>s are variants of one example (Node's ESM/CommonJS) only when nothing is between
        # them: a Sphinx grammar's <pre> holds text and <strong>s around its <code>s, and is one block
        alone = not (pre.text or "").strip() and not any((c.tail or "").strip() for c in pre)
        for el in parts if len(parts) > 1 and alone else [pre]:
            t = el.text_content()
            out.append(t[1:] if t.startswith("\n") else t)
    return out


def code_survival(pages: dict[str, str], texts: dict[str, str]) -> dict[str, int]:
    """Over the kept pages: code blocks with indented lines, how many keep every indented line as it was
    (a line of the output), how many appear byte-exact; the same for the Python reference pages."""
    c = {"indented": 0, "indent_kept": 0, "exact": 0, "py_indented": 0, "py_indent_kept": 0}
    for doc, text in texts.items():
        lines = set(text.split("\n"))
        for block in code_blocks(pages[doc]):
            ind = [ln for ln in block.rstrip("\n").split("\n") if ln[:1] in (" ", "\t") and ln.strip()]
            if not ind:
                continue
            ok = all(ln in lines for ln in ind)
            py = doc.startswith(("python_ref/", "httplib2/"))
            c["indented"] += 1
            c["indent_kept"] += ok
            c["exact"] += block.rstrip("\n") in text
            c["py_indented"] += py
            c["py_indent_kept"] += py and ok
    return c


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    work = Path(p["work"]) / "lmforge"
    stats, secs = harness.run_prepare(
        work,
        "bench-html",
        {
            "sources": [{"path": str(Path(p["corpus"]) / "pages"), "format": "html", "unit": "file"}],
            "steps": ["strip_html", "gopher_repetition"],
            "workers": p["workers"],
            "split": {"train": 1.0, "val": 0.0, "test": 0.0},
        },
    )
    rows = [json.loads(line) for line in (work / "out" / "train.jsonl").open()]
    texts = {_doc(r["meta"]["source"]): r["text"] for r in rows}
    return _result(p, texts, secs, stats["read"])


def _doc(source: str) -> str:
    """`/…/corpus-600/pages/node_api/api_fs.html` -> `node_api/api_fs.html`"""
    return "/".join(Path(source).parts[-2:])


def run_datatrove(p: dict[str, Any]) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    w = Path(p["work"]) / "datatrove"
    shutil.rmtree(w, ignore_errors=True)
    pipeline = [
        JsonlReader(p["corpus"], glob_pattern="corpus.jsonl"),
        Trafilatura(timeout=10),  # its default 1 s per page drops big reference pages on a busy 2-core VM
        GopherRepetitionFilter(),
        JsonlWriter(str(w / "out"), compression=None),
    ]
    ex = LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1, logging_dir=str(w / "logs"))
    t0 = time.perf_counter()
    ex.run()
    secs = time.perf_counter() - t0
    texts = {}
    for f in sorted((w / "out").glob("*.jsonl")):
        texts.update({(d := json.loads(line))["id"]: d["text"] for line in f.open()})
    return _result(p, texts, secs, sum(1 for _ in (Path(p["corpus"]) / "corpus.jsonl").open()))


def _result(p: dict[str, Any], texts: dict[str, str], secs: float, docs: int) -> dict[str, Any]:
    pages = {(d := json.loads(line))["id"]: d["text"] for line in (Path(p["corpus"]) / "corpus.jsonl").open()}
    kept = {g: 0 for g in sorted({d.split("/")[0] for d in pages})}
    for d in texts:
        kept[d.split("/")[0]] += 1
    ref = sum(n for g, n in kept.items() if REAL.get(g, (True,))[0] and g != "fixtures")
    out = {
        "seconds": secs,
        "docs": docs,
        "docs_per_s": docs / secs,
        "kept": len(texts),
        "kept_reference": ref,
    }
    return out | {f"kept_{g}": n for g, n in kept.items()} | code_survival(pages, texts)


VARIANTS = {"lmforge": run_lmforge, "datatrove": run_datatrove}


def bench_prep_html(pages: int, reps: int, work: Path, smoke: bool = False) -> dict[str, Any]:
    corpus = make_corpus(work, pages, smoke)
    params = {"work": str(work), "corpus": str(corpus), "workers": 1, "smoke": smoke}
    runs = harness.interleave("prep_html", list(VARIANTS), params, reps)
    keys = [k for k in runs["lmforge"][0] if isinstance(runs["lmforge"][0][k], (int, float))]
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()
    }
    ref = harness.paired_ratio(runs, "kept_reference", "lmforge", "datatrove")
    speed = harness.paired_ratio(runs, "docs_per_s", "lmforge", "datatrove")
    summary["ratios"] = {"kept_reference": ref, "docs_per_s": speed}
    lm, dt = runs["lmforge"][0], runs["datatrove"][0]
    groups = [k[5:] for k in keys if k.startswith("kept_") and k != "kept_reference"]
    note = (
        f"{lm['docs']} HTML pages, 1 worker each, {reps} reps; kept lmforge/datatrove: "
        + ", ".join(f"{g} {lm['kept_' + g]}/{dt['kept_' + g]}" for g in groups)
        + f"; docs/s {harness.fmt(summary['lmforge']['docs_per_s'])} vs {harness.fmt(summary['datatrove']['docs_per_s'])}"
        + f"; indented code blocks in kept pages with indentation intact: lmforge {lm['indent_kept']}/{lm['indented']}"
        + f" ({lm['exact']} byte-exact), datatrove {dt['indent_kept']}/{dt['indented']} ({dt['exact']} byte-exact);"
        + f" Python: {lm['py_indent_kept']}/{lm['py_indented']} vs {dt['py_indent_kept']}/{dt['py_indented']}"
    )
    targets = [
        ("reference pages kept vs datatrove", ">= 1x", ref, ref["median"] >= 1),
        ("docs/s vs datatrove", ">= 1x", speed, speed["median"] >= 1),
    ]
    harness.save("prep_html", params, runs, summary, targets, note)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=600)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--work", default="runs/bench/prep_html")
    a = ap.parse_args()
    print(json.dumps(bench_prep_html(a.pages, a.reps, Path(a.work).resolve()), indent=1, default=str))


if __name__ == "__main__":
    main()
