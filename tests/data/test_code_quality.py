"""Issue #38 part 2: the prose rules judge the prose and leave the code to the code rules.

Real text: the Python 3.11 documentation as Sphinx built it (Debian python3.11-doc) through strip_html, cut
into its sections (a heading ends in `¶`); CPython's own functions (bench/real_corpora.py); the minified
JavaScript that the same package ships (underscore.min.js, a dependency of its Sphinx pages).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from bench.real_corpora import SPHINX, python_functions

from lmforge.data.code_blocks import code_blocks, prose_and_code
from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.words import counted_words

MINIFIED = Path("/usr/share/javascript/underscore/underscore.min.js")
needs_sphinx = pytest.mark.skipif(
    not Path(SPHINX).is_dir(), reason=f"{SPHINX} absent: install Debian's python3.11-doc (make browser)"
)


def verdict(spec, text: str, meta: dict | None = None):
    step = build_steps([spec], StepContext())[0]
    return step.process(Record("r", {"text": text}, dict(meta or {})))


def kept(v) -> bool:
    return v is True or bool(v[0])


@cache
def sections(page: str) -> dict[str, str]:
    """A real page through strip_html, cut at its headings: {heading: section text}."""
    pytest.importorskip("trafilatura")
    html = Path(SPHINX, "library", page).read_text(encoding="utf-8")
    text = build_steps(["strip_html"], StepContext())[0].apply(html)
    parts = re.split(r"\n(?=[^\n]*¶\n)", text)
    return {p.split("\n", 1)[0].rstrip("¶"): p for p in parts}


# sections of real reference pages: a few sentences, then the example; each was rejected by gopher_quality for
# "too few words with a letter" (the numbers of the example's output counted as words of the page)
CODE_HEAVY = [
    ("tracemalloc.html", "Display the top 10"),
    ("tracemalloc.html", "Compute differences"),
    ("datetime.html", "Examples of Usage: `datetime`"),
    ("tokenize.html", "Examples"),
    ("string.html", "Format examples"),
]


@needs_sphinx
@pytest.mark.parametrize(("page", "heading"), CODE_HEAVY)
def test_code_heavy_documentation_with_good_prose_passes_gopher_quality(page, heading):
    text = sections(page)[heading]
    prose, code = prose_and_code(text)
    assert code and sum(map(len, code)) > len(prose) / 2  # code-heavy
    assert len(counted_words(prose)) >= 50  # judged as prose, not handed to the code rules
    assert verdict("gopher_quality", text) is True
    assert verdict("code_quality", text) is True


def test_junk_prose_with_a_code_block_is_still_rejected():
    # the code's docstring and comments hold "the", "of", "to": judged whole, the soup passed on them
    func = next(
        f for f in python_functions(200, seed=1) if 150 < len(f) < 1200 and " the " in f and " of " in f
    )
    soup = " ".join(["cheap", "replica", "watches", "online", "discount", "luxury", "free", "shipping"] * 8)
    text = f"{soup}\n\n```python\n{func}\n```\n"
    v = verdict("gopher_quality", text)
    assert not kept(v) and v[1].startswith("too few stop words")
    assert not kept(verdict("c4", text))  # no sentence in the prose
    assert verdict("code_quality", text) is True  # the code itself is fine


@pytest.mark.skipif(not MINIFIED.is_file(), reason=f"{MINIFIED} absent (Debian libjs-underscore)")
@pytest.mark.parametrize("fenced", [False, True])
def test_a_minified_javascript_blob_is_rejected_by_the_code_rules(fenced):
    blob = MINIFIED.read_text(encoding="utf-8")
    body = max(blob.splitlines(), key=len)
    assert len(body) > 10_000  # one line: the library
    response = f"```js\n{blob}\n```" if fenced else blob
    rec = Record("r", {"prompt": "Give me the library.", "response": response}, {})
    v = build_steps(["code_quality"], StepContext())[0].process(rec)
    assert not kept(v) and v[1].startswith("code: line too long")
    # the prose rules leave it to them: too little prose to judge is not a reason to reject
    for name in ("gopher_quality", "gopher_repetition", "c4", "fineweb"):
        assert verdict({name: {"short": "reject"}}, rec.text()) == (
            True,
            "not judged: code with under 50 words of prose",
        )


def test_real_functions_pass_the_code_rules_and_are_handed_off_by_the_prose_rules():
    funcs = python_functions(200, seed=2)
    for f in funcs:
        v = verdict("code_quality", f)
        assert v is True, (f.split("\n")[0], v)
    for f in funcs[:40]:
        assert verdict("gopher_quality", f"Write the function.\n\n{f}")[1].startswith("not judged: code")


def test_code_blocks_join_back_and_find_code_without_fences():
    text = (
        "Options are:\n- the first one;\n- the second one;\n\nCall it so:\n"
        "x = load(path)\nfor row in x:\n    print(row)\n\n>>> f(1)\n2\n\n"
        "Inline `{a: 1}` stays in its sentence.\n```\nraw\n```\nDone."
    )
    segs = code_blocks(text)
    assert "".join(s.text for s in segs) == text
    code = [s.text for s in segs if s.kind == "code"]
    assert code == ["x = load(path)\nfor row in x:\n    print(row)\n\n>>> f(1)\n2", "```\nraw\n```"]
    prose, bodies = prose_and_code(text)
    assert "the first one;" in prose and "`{a: 1}`" in prose and bodies[-1] == "raw"
    assert prose_and_code("Plain prose, (with brackets) = fine.").code == []


@needs_sphinx
def test_c4_and_fineweb_judge_the_prose_of_a_real_page_and_keep_its_code_byte_for_byte():
    pytest.importorskip("trafilatura")
    html = Path(SPHINX, "library", "contextlib.html").read_text(encoding="utf-8")
    page = build_steps(["strip_html"], StepContext())[0].apply(html)
    fences = re.findall(r"```[^\n]*\n.*?\n```", page, re.S)
    assert len(fences) > 10 and any("{" in f for f in fences)  # judged whole: "contains '{'"
    rec = Record("r", {"text": page}, {})
    assert build_steps(["c4"], StepContext())[0].process(rec) is True
    assert all(f in rec.fields["text"] for f in fences)  # prose lines dropped, code in place
    assert verdict("fineweb", page) is True  # its ``` lines were "duplicate lines"


def test_language_reads_the_prose_and_leaves_code_to_the_code_rules():
    func = python_functions(5, seed=4)[0]
    rec = Record("r", {"text": func}, {})
    step = build_steps([{"language": {"keep": ["fr"]}}], StepContext())[0]
    assert step.process(rec) == (True, "not judged: code only") and rec.meta["language_by"] == "code"
    prose = "Voici comment lire un fichier ligne par ligne, sans tout charger en mémoire d'un coup :"
    rec = Record("r", {"text": f"{prose}\n\n```python\n{func}\n```"}, {})
    assert step.process(rec) is True and rec.meta["language"] == "fr"  # the code's English is not read


def test_c4_keeps_an_indented_block_a_block():
    prose = " ".join(f"This is sentence number {w} of the guide, and it ends here." for w in "abcdefgh")
    code = "    for row in rows:\n        print(row)  # {row}\n\n    done()"
    text = f"Menu\n{prose}\nRun this:\n\n{code}\n\nThat is all for now, see you soon."
    rec = Record("r", {"text": text}, {})
    assert build_steps(["c4"], StepContext())[0].process(rec) is True
    out = rec.fields["text"]
    assert "Menu" not in out and f"\n\n{code}\n\n" in out  # still an indented block, byte for byte
    assert prose_and_code(out).code == [code]


def test_the_script_of_the_prose_names_the_language_of_a_record_without_one():
    from bench.real_corpora import debian_reference

    from lmforge.data.words import language, script_language

    pytest.importorskip("trafilatura")
    sections = debian_reference("zh-cn")
    if not sections:
        pytest.skip("Debian's debian-reference-zh-cn is not installed")
    text = build_steps(["strip_html"], StepContext())[0].apply(next(s for s in sections if "定制 bash" in s))
    assert script_language(text) is None  # its shell listing outweighs the Chinese: judged as English before
    assert language(text) == "zh"
    assert verdict("gopher_quality", text) is True  # not "too few stop words" from English's list
