"""Main-content extraction of HTML pages: navigation, sidebars and footers go, `<pre>` code comes back
byte-exact in fences, tables stay readable. Fixtures: tests/data/fixtures/html/ (a Sphinx reference page,
an mdBook chapter with a listing in a <figure>, a Node.js API page with two variants of one example)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmforge.data.code_spans import split_code
from lmforge.data.html_extract import extract_main, fence, html_to_text, is_page
from lmforge.data.steps import StepContext, build_steps

pytest.importorskip("trafilatura")

FIXTURES = Path(__file__).parent / "fixtures" / "html"

SPHINX_CODE = [
    (
        "python3",
        "import textwrap\n\ndef show(text, width=40):\n    for line in textwrap.wrap(text, width):\n"
        '        if line.strip():\n            print("> " + line)\n\n\n'
        "show('The quick brown fox jumps over the lazy dog.' * 3)\n",
    ),
    (
        "pycon",
        ">>> def test():\n...     # end first line with \\ to avoid the empty line!\n"
        "...     s = '''\\\n...     hello\n...       world\n...     '''\n...     print(repr(s))\n"
        "...\n>>> test()\n'    hello\\n      world\\n    '\n",
    ),
]
MDBOOK_CODE = (
    "fn main() {\n    let mut v: Vec<i32> = Vec::new();\n\n    v.push(5);\n    v.push(6);\n\n"
    '    for i in &v {\n        println!("{i}");\n    }\n}'
)
NODE_BODY = "\nfunction ext(file) {\n  if (!file) {\n    return '';\n  }\n  return path.extname(file);\n}"
NODE_CODE = [
    "import path from 'node:path';\n" + NODE_BODY,
    "const path = require('node:path');\n" + NODE_BODY,
]

BOILERPLATE = {
    "sphinx_reference.html": ["Quick search", "Created using", "Previous topic", "Report a Bug", "modules |"],
    "mdbook_listing.html": ["Foreword", "Getting Started", "Toggle", "Previous chapter", "Print"],
    "node_api.html": ["About this documentation", "View on single page", "OpenJS Foundation", "copy"],
}


def page(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def blocks(text: str) -> list[str]:
    return [s.text for s in split_code(text, html=False) if s.kind == "code" and s.text.startswith("```")]


@pytest.mark.parametrize("name", sorted(BOILERPLATE))
def test_navigation_sidebars_and_footers_go(name):
    out = extract_main(page(name))
    for junk in BOILERPLATE[name]:
        assert junk not in out, junk


def test_sphinx_pre_blocks_are_byte_exact_and_table_readable():
    out = extract_main(page("sphinx_reference.html"))
    assert blocks(out) == [fence(code, lang) for lang, code in SPHINX_CODE]
    assert (
        "| Option | Default | Meaning |" in out
        and "| `width` | 70 | maximum length of wrapped lines |" in out
    )
    assert "The `textwrap` module provides some convenience functions" in out  # inline code keeps its ticks


def test_listing_inside_a_figure_is_kept_exactly():
    out = extract_main(page("mdbook_listing.html"))
    assert blocks(out) == [fence(MDBOOK_CODE, "rust")]
    assert out.index("Listing 8-1, and then") < out.index("```rust") < out.index("Note that we added")


def test_two_code_variants_in_one_pre_are_two_exact_blocks_without_the_button():
    assert blocks(extract_main(page("node_api.html"))) == [fence(c, "js") for c in NODE_CODE]


def test_trafilatura_alone_loses_this_code():
    """Why the protection exists: the same page through trafilatura as datatrove calls it."""
    import trafilatura

    raw = trafilatura.extract(page("sphinx_reference.html"), favor_precision=True, deduplicate=True)
    assert SPHINX_CODE[0][1].rstrip() not in raw  # blank lines inside the code are gone
    mdbook = trafilatura.extract(page("mdbook_listing.html"), favor_precision=True) or ""
    assert "v.push(5);" not in mdbook  # the listing went with its <figure>


def test_strip_html_extracts_pages_and_normalize_keeps_the_code():
    steps = build_steps(["fix_unicode", "strip_html", "normalize"], StepContext())
    for name in BOILERPLATE:
        text = page(name)
        for s in steps:
            text = s.apply(text)
        assert blocks(text) == blocks(extract_main(page(name)))
        assert not any(junk in text for junk in BOILERPLATE[name])


def test_extract_none_converts_everything_and_keeps_code_exact():
    (plain,) = build_steps([{"strip_html": {"extract": "none"}}], StepContext())
    out = plain.apply(page("sphinx_reference.html"))
    assert "Quick search" in out  # the sidebar stays: nothing is judged boilerplate
    assert blocks(out) == [fence(code, lang) for lang, code in SPHINX_CODE]
    assert "| **Option** |" not in out and "| Option | Default | Meaning |" in out


def test_a_page_trafilatura_finds_nothing_in_is_converted_not_emptied():
    (strip,) = build_steps(["strip_html"], StepContext())
    tiny = "<html><body><p>Order 1234 arrived broken.</p></body></html>"
    assert strip.apply(tiny) == "Order 1234 arrived broken."


def test_output_does_not_depend_on_what_was_extracted_before():
    first = extract_main(page("sphinx_reference.html"))
    extract_main(page("node_api.html"))
    assert extract_main(page("sphinx_reference.html")) == first


def test_fragments_are_not_pages():
    assert is_page(page("node_api.html")) and not is_page("<p>Hi</p><p>there</p>")
    assert html_to_text("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>") == (
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )


def test_html_source_through_prepare(runner):
    runner.write("docs/textwrap.html", page("sphinx_reference.html"))
    _, kept, _ = runner.run([{"path": "docs", "format": "html"}], steps=["strip_html", "normalize"])
    assert blocks(kept[0]["text"]) == [fence(code, lang) for lang, code in SPHINX_CODE]
    assert "Quick search" not in kept[0]["text"]


def test_list_items_in_paragraphs_stay_on_their_marker_line():
    """`<li><p>text</p></li>` (DocBook, Sphinx) came out as a `-` line and the text below it: every item
    added a duplicate `-` line, and gopher_repetition dropped real documentation for duplicate lines."""
    from lmforge.data.steps.strip_html import _strip_tags

    html = "<ul><li><p>one</p></li>\n<li>\n  <p>two</p>\n</li><li>three</li></ul>"
    assert html_to_text(html) == "- one\n\n- two\n\n- three"
    assert [x for x in _strip_tags(html).split("\n") if x] == ["- one", "- two", "- three"]


def test_real_debian_reference_sections_keep_their_list_items():
    """The Debian Reference in Japanese and Chinese (Debian packages debian-reference-ja/-zh-cn: real
    DocBook HTML): no bare `-` line, and gopher_repetition keeps the sections (52 of 339 Chinese ones were
    dropped for duplicate lines)."""
    from bench.real_corpora import debian_reference

    sections = debian_reference("zh-cn")
    if not sections:
        pytest.skip("debian-reference-zh-cn is not installed (make browser installs it)")
    strip, rep = build_steps(["strip_html", "gopher_repetition"], StepContext())
    texts = [strip.apply(s) for s in sections[:120]]
    assert not [t for t in texts if "\n-\n" in t]
    dropped = [t for t in texts if rep.keep(t, "zh") is not True and not rep.keep(t, "zh")[0]]
    assert len(dropped) <= 3, [t[:200] for t in dropped]


def test_text_in_spans_is_kept_and_hidden_spans_go():
    # python3.11-doc's markup (distutils/introduction.html, library/time.html): trafilatura's class-name rules
    # dropped the menuselection span as a menu and the signature's return arrow; a hidden span still goes
    prose = (
        "The setup script is the centre of all activity in building, distributing and installing modules. "
        * 3
    )
    page = (
        "<html><body><div role='main'><h1>Intro</h1>"
        f"<p>{prose}</p>"
        '<p>For Windows, open a command prompt window (<span class="menuselection">Start ‣\n'
        "Accessories</span>) and change the command to:</p>"
        "<dl class='py function'><dt class='sig sig-object py'><span class='sig-name descname'>"
        "<span class='pre'>clock_gettime</span></span><span class='sig-paren'>(</span><em class='sig-param'>"
        "clk_id</em><span class='sig-paren'>)</span> <span class='sig-return'><span class='sig-return-icon'>"
        "&#x2192;</span> <span class='sig-return-typehint'><span class='pre'>float</span></span></span></dt>"
        f"<dd><p>Return the time of the specified clock. {prose}</p></dd></dl>"
        "<p>Hidden: <span style='display: none'>SECRET</span>done.</p></div></body></html>"
    )
    out = extract_main(page)
    assert "(Start ‣ Accessories)" in " ".join(out.split())
    assert "clock_gettime(clk_id) → float" in out
    assert "SECRET" not in out and "Hidden: done." in out
