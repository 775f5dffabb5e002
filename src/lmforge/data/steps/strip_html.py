"""strip_html: markup -> readable text, only where the text is HTML, never inside code.

Which texts are HTML (the rule, also in docs/prepare.md):
1. The text begins with markup (a doctype, `<html>`, a comment, an HTML element's start tag): it is an HTML
   document or fragment and is converted whole. A whole page (`<html>`/`<body>`/doctype) gets main-content
   extraction first (`extract: auto`, see html_extract.py): navigation, sidebars and footers go.
2. Otherwise (markdown, plain text) it holds markup when, outside markdown code, there is an HTML comment,
   a paired element (`<b>..</b>`), a void element (`<br>`, `<img ...>`) with attributes or written against
   text (`one<br>two`; "use <br> here" is a mention), or an HTML code element (`<pre>..</pre>`). Then tags
   are removed from the prose and entities decoded; markdown code (fences, indented, inline) is untouched.
   A tag in quotes (`'<div>'`) or JSX (`<App />`, `className=`, `={}`) is not markup.
   A text that looks like code as a whole (`code_spans.looks_like_code`) is not converted: markup in code
   is data (`return '<!--: spam'`, the regex `(?P<source>`).
3. Anything else is left as it is.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Literal

from lmforge.data.code_spans import (
    START_TAG,
    VOID,
    html_element_tag,
    is_html_document,
    looks_like_code,
    split_code,
)
from lmforge.data.html_extract import extract_main, html_to_text, is_page
from lmforge.data.steps.base import TextStep

_DROP = re.compile(
    r"<!--.*?-->|<(script|style|noscript|template|head|svg|iframe)\b[^>]*>.*?</\1\s*>", re.I | re.S
)
_ANY_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*?)?/?>")
_BREAK = {"br", "p", "div", "tr", "ul", "ol", "table", "blockquote", "section", "article", "hr", "pre"}
_BREAK |= {f"h{i}" for i in range(1, 7)}


def has_markup(prose: str) -> bool:
    """Rule 2 of the module docstring, on the prose of a markdown/plain text.

    >>> has_markup("one<br>two"), has_markup("use <br> to break"), has_markup("x = '<div>';")
    (True, False, False)
    """
    if "<" not in prose:
        return False
    if re.search(r"<!--.*?-->", prose, re.S):
        return True
    for m in START_TAG.finditer(prose):
        if not html_element_tag(m) or (m.start() and prose[m.start() - 1] in "'\"`="):
            continue
        name = m.group(1).lower()
        if name in VOID:
            attrs = (m.group(2) or "").strip(" /")
            before, after = prose[m.start() - 1 : m.start()], prose[m.end() : m.end() + 1]
            if attrs or (before and not before.isspace()) or (after and not after.isspace()):
                return True
        elif re.search(rf"</{name}\s*>", prose[m.end() :], re.I):
            return True
    return False


class StripHtml(TextStep):
    """`"<p>Hi&amp;bye</p><pre>x = 1</pre>"` -> `"Hi&bye\\n\\n```\\nx = 1\\n```"`; a markdown answer keeps its
    code fences byte for byte (`$out = '<div></div>';` stays), text without markup is untouched.

    `extract`: `auto` (main content of whole pages, plain conversion of fragments), `main` (main content
    of every HTML document), `none` (plain conversion: everything but scripts, styles and the head).
    When trafilatura finds no main content, the page is converted plainly (nothing is lost silently)."""

    name = "strip_html"

    def __init__(
        self, keep_code: bool = True, extract: Literal["auto", "main", "none"] = "auto", **kw
    ) -> None:
        super().__init__(**kw)
        if extract not in ("auto", "main", "none"):
            raise ValueError(f"extract must be auto, main or none, got {extract!r}")
        self.keep_code, self.extract = keep_code, extract

    def apply(self, text: str) -> str:
        if "<" not in text and "&" not in text:
            return text
        if is_html_document(text):
            if self.extract == "main" or (self.extract == "auto" and is_page(text)):
                main = extract_main(text)
                if main:
                    return main
            return html_to_text(text, self.keep_code)
        segs = split_code(text, html=False)
        prose = "".join(s.text for s in segs if s.kind == "prose")
        if not (has_markup(prose) or any(s.kind == "html" for s in segs)):
            return text
        if looks_like_code(text):  # markup in code is data: `return '<!--: spam'`, `(?P<source>`
            self.notes["code left as is"] += 1
            return text
        return "".join(self._segment(s.kind, s.text) for s in segs)

    def _segment(self, kind: str, text: str) -> str:
        if kind == "code":
            return text
        if kind == "html":  # <pre>/<code> written in a markdown text: fenced / inline code
            out = html_to_text(text, self.keep_code)
            return f"\n{out}\n" if "\n" in out else out
        return _strip_tags(text)


def _strip_tags(prose: str) -> str:
    """Tags out of markdown prose, in place: its own line breaks and spacing stay.

    >>> _strip_tags("Hi,<br>see <b>this</b> &amp; that")
    'Hi,\\nsee this & that'
    """

    def tag(m: re.Match) -> str:
        if not html_element_tag(m):
            return m.group()  # `<EMAIL>`, `<T>`, a JSX component
        name = m.group(1).lower()
        if name == "li":
            return "" if m.group().startswith("</") else "\n\x00"
        return "\n" if name in _BREAK else ""

    # an item's text goes on its marker's line, also when it sits in a <p> (`<li><p>text</p></li>`)
    return htmllib.unescape(_ITEM.sub("- ", _ANY_TAG.sub(tag, _DROP.sub("", prose))))


_ITEM = re.compile(r"\x00\s*")
