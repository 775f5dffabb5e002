"""Real Sphinx pages (the Python 3.11 docs, Debian python3.11-doc; `make browser` installs it in CI): every
`<pre>` inside a definition list's `<dd>` (a method's example, a grammar) comes out with its lines and
indentation, on both paths (trafilatura's main content, the plain HTMLParser conversion) and from a `<dl>`
fragment in a JSON field; inline `<code>` keeps its backticks (issue #28 item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.real_corpora import SPHINX

from lmforge.data.html_extract import extract_main, html_to_text
from lmforge.data.steps import StepContext, build_steps

lxml_html = pytest.importorskip("lxml.html")
pytest.importorskip("trafilatura")
pytestmark = pytest.mark.skipif(
    not Path(SPHINX).is_dir(), reason=f"{SPHINX} absent: install Debian's python3.11-doc (make browser)"
)
# functions.html: float()'s grammar, a <pre> of <strong>s and <a><code>s straight in a <dd>, came out as
# one line; json.html: JSONEncoder.default's example in <dd><div class="highlight">
PAGES = ["functions.html", "json.html"]


def dd_pres(tree) -> list[str]:
    """The text of each <pre> inside a <dd>, as the browser shows it (entities decoded, markup out)."""
    texts = ["".join(p.itertext()) for p in tree.iter("pre") if any(a.tag == "dd" for a in p.iterancestors())]
    return [t[1:] if t.startswith("\n") else t for t in texts]  # HTML drops the newline after <pre>


def kept(out: str, pres: list[str]) -> list[str]:
    """The <pre>s that are not in `out` as the exact body of a fenced block (whatever its language)."""
    return [code for code in pres if f"\n{code.removesuffix(chr(10))}\n```" not in out]


@pytest.mark.parametrize("name", PAGES)
def test_pre_inside_dd_keeps_its_lines_on_both_paths(name):
    html = Path(SPHINX, "library", name).read_text(encoding="utf-8")
    pres = dd_pres(lxml_html.fromstring(html))
    assert len(pres) >= 2 and all("\n" in code for code in pres)
    assert kept(extract_main(html), pres) == []
    assert kept(html_to_text(html), pres) == []


def test_dl_fragment_in_a_json_field_keeps_its_pre():
    html = Path(SPHINX, "library", "functions.html").read_text(encoding="utf-8")
    steps = build_steps(["fix_unicode", "strip_html", "normalize"], StepContext())
    for dl in lxml_html.fromstring(html).iter("dl"):
        if dl.find(".//dd//pre") is None:
            continue
        text = json.loads(json.dumps({"text": lxml_html.tostring(dl, encoding="unicode")}))["text"]
        for s in steps:
            text = s.apply(text)
        assert kept(text, dd_pres(dl)) == []


def test_inline_code_keeps_its_backticks_on_both_paths():
    html = Path(SPHINX, "library", "json.html").read_text(encoding="utf-8")
    for out in (extract_main(html), html_to_text(html)):
        assert "`json.dumps()`" in out and "`JSONEncoder`" in out
