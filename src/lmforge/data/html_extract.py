"""HTML -> text, code kept byte-exact in fences: the main content of a page (navigation, sidebars, footers
dropped) with trafilatura, as datatrove does (`extract_main`), or the whole markup converted (`html_to_text`).

trafilatura alone loses code: it drops blank lines inside `<pre>`, squeezes spaces, and removes listings
inside `<figure>` (mdBook, Sphinx) with the figure. So before extraction a token is put in front of each
outermost `<pre>` (the code stays, so trafilatura keeps or drops the block as it would), its exact text is
kept aside (the text as shown, less the one newline HTML drops after `<pre>`), and `<figure>`s holding
code become `<div>`s; afterwards each token and the lines trafilatura wrote for it become the exact code
in a fence; each `<pre>` is flattened to its text first, wherever it is nested (a `<dd>`, a table, an
admonition), and inline `<code>` becomes its text in backticks. Output is trafilatura's plain text (its
markdown output escapes prose: `snake\\_case`), lists as `- `, tables as `| a | b |` rows.

>>> page = ("<html><body><nav><a href='/'>Home</a> | <a href='/api'>API</a></nav><main><h1>Loader</h1>"
...         + "<p>The loader reads the settings file and checks every key before the run starts.</p>"
...         + "<pre>def f(x):\\n\\n    return x</pre></main><footer>(c) 2024</footer></body></html>")
>>> print(extract_main(page))
Loader
The loader reads the settings file and checks every key before the run starts.
<BLANKLINE>
```
def f(x):
<BLANKLINE>
    return x
```
"""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

from lmforge.data.code_spans import map_prose, split_code

_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"\s{2,}")
_PAGE = re.compile(r"<!doctype\s+html|<html[\s>]|<body[\s>]", re.I)
_LANG = re.compile(r"(?:^|\s)(?:language|lang|highlight|brush:?)-?([A-Za-z][\w+#.-]*)")
_KNOWN_LANG = set("rust python py js javascript ts typescript bash sh shell console".split())


def is_page(text: str) -> bool:
    """A whole page (a doctype, `<html>` or `<body>` in its first 4 KB), not a fragment like `<p>Hi</p>`."""
    return bool(_PAGE.search(text, 0, 4096))


def extract_main(html: str, precision: bool = True) -> str | None:
    """Main content as text with fenced code blocks, or None when trafilatura finds none.

    `precision` is trafilatura's `favor_precision` (datatrove's default: less boilerplate, sometimes
    less text)."""
    import trafilatura
    from trafilatura.deduplication import LRUCache

    tree = _parse(html)
    if tree is None:
        return None
    salt = hashlib.blake2b(
        html.encode("utf-8", "replace"), digest_size=4
    ).hexdigest()  # no page has it by chance
    codes = _protect_code(tree, salt)
    _tick_inline_code(tree)
    _unwrap_spans(tree)
    options = dict(
        output_format="txt",  # markdown output escapes prose (snake\_case, 2 \* 3): txt keeps it as written
        favor_precision=precision,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
    )
    # trafilatura drops a segment repeated within the page (a "Read more" on every method), as datatrove has
    # it; a fresh cache per run, because a shared one remembers text across pages (and across the two runs
    # below) and the output would depend on their order and on which worker read which.
    # `fast` runs trafilatura's own extractor only, without its fallbacks (readability, justext: a third of
    # its time). They can only win where its own result is short or less than half of the page's text (an
    # index, a table layout); there the full cascade runs (on 800 documentation pages: 20% of them, and 7
    # outputs differ from the full cascade's, all gtk-doc pages, by 1-7% of their length)
    # A page whose text is mostly links (an index, a table of contents) gets the full cascade at once: the
    # fast pass finds little there (Python's genindex pages: nothing) and was a second, wasted extraction of
    # the biggest pages (its contents.html and genindex-all.html: 14 of 55 CPU-s on 661 pages)
    page, links = _text_length(tree), _text_length(tree, "a")
    out = (
        None
        if 2 * links > page
        else trafilatura.extract(tree, fast=True, deduplicate=LRUCache(maxsize=4096), **options)
    )
    if not out or len(out) < 500 or 2 * len(out) < page:
        out = trafilatura.extract(tree, deduplicate=LRUCache(maxsize=4096), **options)
    if not out:
        return None
    return _restore(out, codes, salt).strip()


def _parse(html: str):
    """The page as trafilatura parses it (`trafilatura.utils.load_html`'s parser options), its elements
    plain `HtmlElement`s chosen in C: lxml.html's default lookup calls a Python method for every element
    Python touches (5.5 million calls on 661 documentation pages, a tenth of the extraction's time)."""
    from lxml import etree
    from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction, fromstring
    from trafilatura.utils import load_html

    global _PARSER
    if _PARSER is None:
        _PARSER = etree.HTMLParser(
            collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
        )
        _PARSER.set_element_class_lookup(
            etree.ElementDefaultClassLookup(
                element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
            )
        )
    try:  # bytes: a page declaring its encoding (`<?xml ... encoding=`) is refused as a str
        tree = fromstring(html.encode("utf-8", "surrogatepass"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        tree = None
    return tree if tree is not None and len(tree) else load_html(html)


_PARSER = None


def _unwrap_spans(tree) -> None:
    """`<span>`s out, their text kept (trafilatura strips them too, but only after its class-name rules
    ran over them: Sphinx's `<span class="menuselection">Start ‣ Accessories</span>` and the `→` of a
    signature's return type were dropped as menus, and each span costs a regex per rule); a hidden span
    (`display:none`, `aria-hidden`, `hidden`) goes with its text, as trafilatura drops it."""
    from lxml import etree

    for span in list(tree.iter("span")):
        style = (span.get("style") or "").replace(" ", "")
        if "display:none" in style or span.get("aria-hidden") == "true" or span.get("hidden") is not None:
            span.drop_tree()  # its tail stays
    etree.strip_tags(tree, "span")


def _protect_code(tree, salt: str) -> list[tuple[str, str]]:
    """Put a token in front of every code block; returns (language, exact code) per token."""
    codes = []
    for unit in _code_units(tree):
        text = _exact_text(unit)
        lang = _language(unit)
        # the code stays, so trafilatura keeps or drops the block as it would on its own (it drops what
        # it finds too short or repeated); whatever it keeps is replaced by the exact text afterwards. The
        # block is flattened to its text: markup inside (a Sphinx grammar's <strong> and <a><code>) made
        # trafilatura write it as one line, its tokens lost, its <code>s as separate blocks
        for child in list(unit):
            unit.remove(child)
        unit.text = f"lmforgecode{salt}x{len(codes)}\n{text}"
        codes.append((lang, text[1:] if text.startswith("\n") else text))  # HTML drops that newline
        for a in unit.iterancestors("figure"):  # trafilatura drops figures whole: listings go with them
            a.tag = "div"
    return codes


def _text_length(tree, tag: str | None = None) -> int:
    """Characters of the page's text (of its `tag` elements' text, if given), runs of whitespace as one."""
    body = tree.find("body")
    body = tree if body is None else body
    text = "".join(body.itertext() if tag is None else (t for el in body.iter(tag) for t in el.itertext()))
    return len(text) - sum(len(m.group()) - 1 for m in _SPACES.finditer(text))


def _tick_inline_code(tree) -> None:
    """`<code>f()</code>` outside blocks -> the text "`f()`" (trafilatura's plain text drops the markup,
    and with it what is code in a sentence). Runs after `_protect_code`: a <pre> holds no element then,
    but its <code>s when they are variants (`_code_units`)."""
    for code in list(tree.iter("code")):
        if code.getparent() is None or code.getparent().tag != "pre":
            text = _inline(" ".join(_exact_text(code).split()), True)
            for child in list(code):
                code.remove(child)
            code.tag, code.text = "span", text


def _code_units(tree) -> list:
    """Each outermost <pre>, or each of its <code> children when it holds several (Node's docs show the
    ESM and CommonJS variants of an example as two <code>s in one <pre>, trafilatura two blocks)."""
    units = []
    for pre in tree.iter("pre"):
        if any(a.tag == "pre" for a in pre.iterancestors()):
            continue
        parts = [c for c in pre if c.tag == "code"]
        # variants only when the <code>s are all there is (a Sphinx grammar's <pre> has text between them)
        alone = not (pre.text or "").strip() and not any((c.tail or "").strip() for c in pre)
        units += parts if len(parts) > 1 and alone else [pre]
    return units


def _exact_text(el) -> str:
    """The element's text as shown: every text node, `<br>` as a newline, buttons and inputs left out."""
    parts = [el.text or ""]
    for child in el:
        if child.tag == "br":
            parts.append("\n")
        elif isinstance(child.tag, str) and child.tag not in ("button", "input"):
            parts.append(_exact_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _language(pre) -> str:
    """`<pre class="language-python">`, `<code class="lang-js">`, Sphinx's `<div class="highlight-py">`,
    rustdoc's `<pre class="rust">` -> the fence's info string."""
    nodes = [*pre.iter("pre", "code")][:2] + list(pre.iterancestors())[:2]
    return next((lang for n in nodes if (lang := _language_of(n.get("class") or ""))), "")


def fence(code: str, lang: str = "") -> str:
    """A fenced block holding `code` exactly (its one final newline is the fence's line end), with a fence
    longer than any backtick fence inside: `fence("x = 1\\n", "py")` -> "```py\\nx = 1\\n```"."""
    body = code[:-1] if code.endswith("\n") else code
    runs = [len(r) for r in re.findall(r"^ {0,3}(`{3,})", body, re.M)]
    ticks = "`" * max([3, *(n + 1 for n in runs)])
    return f"{ticks}{lang}\n{body}\n{ticks}"


def _restore(out: str, codes: list[tuple[str, str]], salt: str) -> str:
    """Each token and the lines after it that are its code as trafilatura wrote it (blank lines gone,
    spaces squeezed) -> the exact code in a fence."""
    pieces, pos = [], 0
    out = re.sub(rf"(?<=[^\n])(?=lmforgecode{salt}x\d)", "\n", out)  # "}lmforgecode..": a block ended
    for m in re.finditer(rf"lmforgecode{salt}x(\d+)\n?", out):
        lang, code = codes[int(m.group(1))]
        pieces.append(out[pos : m.start()])
        pos = m.end()
        for want in (" ".join(line.split()) for line in code.split("\n") if line.strip()):
            end = out.find("\n", pos)
            end = len(out) if end < 0 else end
            if " ".join(out[pos:end].split()) != want:
                break
            pos = min(end + 1, len(out))
        pieces.append(f"\n{fence(code, lang)}\n")
    text = "".join([*pieces, out[pos:]])
    return map_prose(text, lambda t: _BLANKS.sub("\n\n", t), html=False)  # one blank line around fences


BLOCK = set(
    "p div br tr h1 h2 h3 h4 h5 h6 section article header footer blockquote table ul ol hr dd dt dl title main "
    "nav aside figure figcaption details summary caption".split()
)
SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe"}


def html_to_text(html: str, keep_code: bool = True) -> str:
    """All the markup converted: block tags become line breaks, `<li>` `- `, table rows `| a | b |`,
    `<code>` inline code, `<pre>` a fenced block holding its exact text; scripts, styles and the head
    are dropped, entities decoded. Markdown fences already in the text are kept as they are.

    >>> html_to_text("<p>Hi&amp;bye <code>f()</code></p><pre>\\nx = 1\\n  y</pre>")
    'Hi&bye `f()`\\n\\n```\\nx = 1\\n  y\\n```'
    """
    segs = split_code(html, html=True)
    fences = [s.text for s in segs if s.kind == "code"]
    if fences:  # a markdown fence inside HTML (a chat answer): parsed as a marker, put back verbatim
        it = iter(range(len(fences)))
        html = "".join(
            f'<lmforge-md i="{next(it)}"></lmforge-md>' if s.kind == "code" else s.text for s in segs
        )
    parser = _ToText(keep_code, fences)
    parser.feed(html)
    parser.close()
    return parser.text()


class _ToText(HTMLParser):
    def __init__(self, keep_code: bool, fences: list[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_code, self.fences = keep_code, fences
        self.parts: list[str] = []  # finished pieces: cleaned prose and code blocks, in order
        self.buf: list[str] = []  # the prose being collected
        self.skip = 0
        self.pre: list[str] | None = None  # the text of the <pre> being read
        self.pre_depth, self.lang, self.outer_lang = 0, "", ""
        self.code: list[str] | None = None  # the text of an inline <code>
        self.cells, self.header, self.cell = -1, False, 0  # table row: cells so far (-1: no row open)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "lmforge-md":
            return self._block(self.fences[int(dict(attrs)["i"])], fenced=False)
        if tag in SKIP:
            self.skip += 1
        if self.skip:
            return
        if self.pre is not None:
            self.pre_depth += tag == "pre"
            self.pre.append("\n" if tag == "br" else "")
            if tag == "code" and not self.lang:
                self.lang = _language_of(dict(attrs).get("class") or "")
        elif tag == "pre":
            lang = _language_of(dict(attrs).get("class") or "") or self.outer_lang
            self.pre, self.pre_depth, self.lang, self.outer_lang = [], 1, lang, ""
        elif tag == "code":
            self.code = self.code if self.code is not None else []
        elif tag in ("td", "th"):
            self.cells = max(self.cells, 0) + 1
            self.header |= tag == "th"
            self.cell += 1
            self.buf.append("| " if self.cells == 1 else " | ")
        elif tag == "tr":
            self._end_row()
            self.cells = 0
            self.buf.append("\n")
        elif tag == "li":
            self.buf.append("\n- ")
        elif tag in BLOCK:
            if not self._after_marker():  # <li><p>: the item's text stays on its marker's line
                self.buf.append(" " if self.cell else "\n")
            if tag == "div":  # Sphinx: <div class="highlight-python3"><div class="highlight"><pre>
                self.outer_lang = _language_of(dict(attrs).get("class") or "") or self.outer_lang

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if self.pre is not None:
            self.pre_depth -= tag == "pre"
            if self.pre_depth == 0:
                code, self.pre = "".join(self.pre), None
                self._block(code[1:] if code.startswith("\n") else code, fenced=self.keep_code)
        elif tag == "code" and self.code is not None:
            self.buf.append(_inline(" ".join("".join(self.code).split()), self.keep_code))
            self.code = None
        elif tag in ("td", "th"):
            self.cell = max(0, self.cell - 1)
        elif tag in ("tr", "table"):
            self._end_row()
            self.buf.append("\n" if tag == "table" else "")
        elif tag in BLOCK:
            self.buf.append(" " if self.cell else "\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        target = self.pre if self.pre is not None else self.code
        if target is not None:
            target.append(data)
        else:
            self.buf.append(re.sub(r"\s+", " ", data))

    def _after_marker(self) -> bool:
        """Whether nothing but spaces came since the last `<li>`'s marker."""
        for piece in reversed(self.buf):
            if piece == "\n- ":
                return True
            if piece.strip():
                return False
        return False

    def _end_row(self) -> None:
        if self.cells > 0:
            self.buf.append(" |" + ("\n|" + "---|" * self.cells if self.header else ""))
        self.cells, self.header = -1, False

    def _block(self, code: str, fenced: bool) -> None:
        self._flush()
        if fenced:
            code = fence(code, self.lang)
        self.parts.append(code)

    def _flush(self) -> None:
        prose = re.sub(r" {2,}", " ", "".join(self.buf))  # HTML whitespace: one space is as good as many
        prose = re.sub(r"\n[ \t]+", "\n", re.sub(r"[ \t]+\n", "\n", prose))
        prose = _BLANKS.sub("\n\n", prose).strip()
        if prose:
            self.parts.append(prose)
        self.buf = []

    def text(self) -> str:
        self._flush()
        return "\n\n".join(self.parts)


def _language_of(cls: str) -> str:
    m = _LANG.search(cls)
    if m and m.group(1).lower() not in ("none", "default", "text", "notranslate"):
        return m.group(1).lower()
    return next((w.lower() for w in cls.split() if w.lower() in _KNOWN_LANG), "")


def _inline(code: str, keep_code: bool) -> str:
    """`f()` -> "`f()`"; backticks inside get a longer fence: "a`b" -> "``a`b``"."""
    if not code or not keep_code:
        return code
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", code)), default=0) + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"
