"""strip_html: markup -> readable text. Block tags become line breaks, list items `- `, code stays fenced.

Written on the standard library's HTMLParser (no extra dependency; trafilatura-style boilerplate removal
is out of scope: the input here is usually a page's content, not a crawled page).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from lmforge.data.steps.base import TextStep

BLOCK = {
    "p",
    "div",
    "br",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "table",
    "ul",
    "ol",
    "hr",
    "pre",
    "dd",
    "dt",
    "title",
}
SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe"}
_TAG = re.compile(r"<[a-zA-Z!/][^>]*>|&[#a-zA-Z0-9]+;")


class _ToText(HTMLParser):
    def __init__(self, keep_code: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.keep_code = keep_code

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIP:
            self.skip += 1
        elif tag == "pre":
            self.pre += 1
            self.out.append("\n```\n" if self.keep_code else "\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.out.append("\n```\n" if self.keep_code else "\n")
        elif tag in BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))


class StripHtml(TextStep):
    """`"<p>Hi&amp;bye</p><pre>x = 1</pre>"` -> `"Hi&bye\\n```\\nx = 1\\n```"`; text without markup is untouched."""

    name = "strip_html"

    def __init__(self, keep_code: bool = True, **kw) -> None:
        super().__init__(**kw)
        self.keep_code = keep_code

    def apply(self, text: str) -> str:
        if not _TAG.search(text):
            return text
        parser = _ToText(self.keep_code)
        parser.feed(text)
        parser.close()
        out = "".join(parser.out)
        out = re.sub(r"\n (?=\S)", "\n", re.sub(r"[ \t]+\n", "\n", out))  # code indentation survives
        return re.sub(r"\n{3,}", "\n\n", out).strip()
