"""Where the code is in a text: split it, losslessly, into prose and code segments.

Every text step (fix_unicode, strip_html, normalize) rewrites only the prose, so code keeps its bytes:
indentation, blank lines, tabs, trailing spaces, CRLF.

>>> [(s.kind, s.text) for s in split_code("Run:\\n```py\\nif x:\\n    y()\\n```\\nthen `a  b`.")]
[('prose', 'Run:\\n'), ('code', '```py\\nif x:\\n    y()\\n```'), ('prose', '\\nthen '), ('code', '`a  b`'), ('prose', '.')]

The rules (CommonMark's, simplified where the simplification keeps more text untouched):

- Markdown / plain text (the default):
  - fenced block: a line of 3+ backticks or tildes (indented at most 3 spaces), through the closing line of
    the same character and at least the same length, or to the end of the text when it never closes;
  - indented block: lines indented by 4+ spaces or a tab, at the start, after a blank line or after a
    block (an indented line cannot interrupt a paragraph), through blank lines between such lines;
  - inline code: a run of backticks through the next run of the same length within a paragraph;
  - an HTML code element written in the text (`<pre>`, `<code>`, `<script>`, `<style>`, `<textarea>`,
    closed): kind `html`, kept by fix_unicode and normalize, converted by strip_html.
- HTML (`is_html_document`: the text begins with markup): the code elements above (kind `html`), then
  fenced blocks between them. Indentation and backticks mean nothing in HTML, so they are not code there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

# HTML element names: tags with these names are markup; `<EMAIL>`, `<T>` or `<Header />` are not
ELEMENTS = frozenset(
    "a abbr address area article aside audio b base bdi bdo big blockquote body br button canvas caption "
    "center cite code col colgroup data datalist dd del details dfn dialog div dl dt em embed fieldset "
    "figcaption figure font footer form h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img input "
    "ins kbd label legend li link main map mark menu meta meter nav noscript object ol optgroup option "
    "output p param picture pre progress q rp rt ruby s samp script section select small source span "
    "strike strong style sub summary sup svg table tbody td template textarea tfoot th thead time title "
    "tr track tt u ul var video wbr".split()
)
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
CODE_ELEMENTS = ("pre", "code", "script", "style", "textarea")

# a start tag: name, then attributes; JSX (`className=`, `={...}`) is excluded where it is used
START_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*?)?/?>")
_DOC = re.compile(r"\ufeff?\s*(?:<!doctype\s+html|<html[\s>]|<\?xml[^>]*>\s*<|<!--)", re.I)
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})([^\n]*)")
_INDENTED = re.compile(r"(?: {4}|\t)")
_TICKS_OR_TAG = re.compile(r"(`+)|<(pre|code|script|style|textarea)\b[^>]*>", re.I)
_PARAGRAPH_END = re.compile(r"\n[ \t]*\r?\n")
_MAYBE_CODE = re.compile(r"`|~~~|^(?: {4}|\t)|\n(?: {4}|\t)|<(?:pre|code|script|style|textarea)\b", re.I)


class Segment(NamedTuple):
    kind: str  # "prose" | "code" (markdown code) | "html" (an HTML code element, tags included)
    text: str


def html_element_tag(m: re.Match) -> bool:
    """A `START_TAG` match that is HTML markup: a known element name, all lower or all upper case (`<DIV>` is
    HTML, `<Table>` a JSX component), no JSX attribute (`={`, `className=`)."""
    name, attrs = m.group(1), m.group(2) or ""
    if name.lower() not in ELEMENTS or not (name.islower() or name.isupper()):
        return False
    return "={" not in attrs.replace(" ", "") and "className=" not in attrs


def is_html_document(text: str) -> bool:
    """The text begins with markup: a doctype, `<html>`, a comment, or an HTML element's start tag.

    >>> is_html_document("<p>Hi</p>"), is_html_document("Use <br> here"), is_html_document("<App />")
    (True, False, False)
    """
    if _DOC.match(text):
        return True
    m = START_TAG.match(text.lstrip("\ufeff \t\r\n"))
    return bool(m) and html_element_tag(m)


def split_code(text: str, html: bool | None = None) -> list[Segment]:
    """Prose and code segments whose texts join back to `text` exactly (see the module docstring).

    `html=None` decides with `is_html_document`."""
    if not _MAYBE_CODE.search(text):  # most records: no backtick, tilde fence, indent or code tag
        return [Segment("prose", text)]
    if html is None:
        html = is_html_document(text)
    finders = (_html_code, _fenced) if html else (_fenced, _indented, _inline_or_html)
    spans = [(0, len(text), "prose")]
    for find in finders:
        out = []
        for s, e, kind in spans:
            out += find(text, s, e) if kind == "prose" else [(s, e, kind)]
        spans = out
    return [Segment(kind, text[s:e]) for s, e, kind in spans if e > s]


def map_prose(text: str, fn: Callable[[str], str], html: bool | None = None) -> str:
    """Apply `fn` to the prose segments only: `map_prose("a `b` c", str.upper)` -> "A `b` C"."""
    segs = split_code(text, html)
    if len(segs) == 1 and segs[0].kind == "prose":
        return fn(text)
    return "".join(fn(s.text) if s.kind == "prose" else s.text for s in segs)


def prose_only(text: str) -> str:
    """The text with its markdown code left out, for judging the prose: a filter for repeated lines or
    n-grams would otherwise count `}` lines and ``` fences: `prose_only("a\\n```\\nx\\n```\\nb")` -> "a\\n\\nb"."""
    return "".join(s.text for s in split_code(text, html=False) if s.kind == "prose")


def _lines(text: str, s: int, e: int) -> list[tuple[int, int]]:
    """(start, end without the newline) of each line in text[s:e]."""
    out, i = [], s
    while i < e:
        j = text.find("\n", i, e)
        j = e if j < 0 else j
        out.append((i, j))
        i = j + 1
    return out


def _fenced(text: str, s: int, e: int) -> list[tuple[int, int, str]]:
    spans, cur, lines, k = [], s, _lines(text, s, e), 0
    while k < len(lines):
        a, b = lines[k]
        m = _FENCE.fullmatch(text, a, b) if (a == 0 or text[a - 1] == "\n") else None
        if m is None or (m.group(2)[0] == "`" and "`" in m.group(3)):  # ```x``` on one line is inline code
            k += 1
            continue
        fence, close = m.group(2), len(lines)
        for j in range(k + 1, len(lines)):
            line = text[lines[j][0] : lines[j][1]].rstrip("\r")
            body = line.strip(" \t")
            if len(line) - len(line.lstrip(" ")) <= 3 and set(body) == {fence[0]} and len(body) >= len(fence):
                close = j
                break
        last = close
        if close == len(lines):  # never closed: code to the last line that is not blank
            last = max([k, *(j for j in range(k, len(lines)) if not _is_blank(text, *lines[j]))])
        end = lines[last][1]
        spans += [(cur, a, "prose"), (a, end, "code")]
        cur, k = end, close + 1
    return [*spans, (cur, e, "prose")]


def _indented(text: str, s: int, e: int) -> list[tuple[int, int, str]]:
    spans, cur, lines = [], s, _lines(text, s, e)
    k, prev_blank = 0, True  # the piece starts the text or follows a fenced block
    while k < len(lines):
        a, b = lines[k]
        blank = _is_blank(text, a, b)
        if not (prev_blank and not blank and _INDENTED.match(text, a, b)):
            prev_blank, k = blank, k + 1
            continue
        last = k  # extend through indented lines and the blank lines between them
        for j in range(k + 1, len(lines)):
            ja, jb = lines[j]
            if _INDENTED.match(text, ja, jb) and not _is_blank(text, ja, jb):
                last = j
            elif not _is_blank(text, ja, jb):
                break
        spans += [(cur, a, "prose"), (a, lines[last][1], "code")]
        cur, k, prev_blank = lines[last][1], last + 1, False
    return [*spans, (cur, e, "prose")]


def _is_blank(text: str, a: int, b: int) -> bool:
    return not text[a:b].strip()


def _inline_or_html(text: str, s: int, e: int) -> list[tuple[int, int, str]]:
    """Inline code and HTML code elements, left to right (`<pre>` inside backticks is inline code)."""
    spans, cur, i = [], s, s
    while True:
        m = _TICKS_OR_TAG.search(text, i, e)
        if m is None:
            break
        if m.group(1):  # a backtick run: the span ends at the next run of the same length
            end = _closing_ticks(text, m.end(), e, len(m.group(1)))
            if end is None or (m.start() > s and text[m.start() - 1] == "\\"):
                i = m.end()
                continue
            kind = "code"
        else:
            close = re.compile(rf"</{m.group(2)}\s*>", re.I).search(text, m.end(), e)
            if close is None:
                i = m.end()
                continue
            end, kind = close.end(), "html"
        spans += [(cur, m.start(), "prose"), (m.start(), end, kind)]
        cur = i = end
    return [*spans, (cur, e, "prose")]


def _closing_ticks(text: str, start: int, e: int, n: int) -> int | None:
    stop = _PARAGRAPH_END.search(text, start, e)
    limit = stop.start() if stop else e
    for m in re.finditer(r"`+", text[start:limit]):
        if len(m.group()) == n:
            return start + m.end()
    return None


def _html_code(text: str, s: int, e: int) -> list[tuple[int, int, str]]:
    spans, cur = [], s
    for m in re.finditer(r"<(pre|code|script|style|textarea)\b[^>]*>", text[s:e], re.I):
        a = s + m.start()
        if a < cur:
            continue  # inside the previous element (`<code>` in `<pre>`)
        close = re.compile(rf"</{m.group(1)}\s*>", re.I).search(text, s + m.end(), e)
        if close is None:
            continue
        spans += [(cur, a, "prose"), (a, close.end(), "html")]
        cur = close.end()
    return [*spans, (cur, e, "prose")]


# a line of code in most languages: a statement of a recognisable shape (`def f(`, `import x`, `return`,
# `x, y = ...`, `int n;`), a decorator, a closing bracket first, or a line ending a statement or opening a
# block (`;`, `{`, `}`, `):`, `=>`); prose rarely has these, wrapped prose lines ending in `,` or `:` aside
_CODE_LINE = re.compile(
    r"\s*(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[:(]|from\s+[.\w]+\s+import\s"
    r"|import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+)*;?\s*$|(?:pass|break|continue|else|try|finally)\s*[:;]?\s*$"
    r"|(?:return|raise|yield|assert|del|await|global|nonlocal|lambda)\b"
    r"|(?:if|elif|for|while|with|except|switch|catch)\b.*[:{]\s*$"
    r"|(?:const|let|var|auto|int|char|float|double|bool|void|long|unsigned)\s+[\w*&]+\s*[=;(\[]"
    r"|#(?:include|define|ifn?def|endif|pragma)\b|@\w|[)\]}]"
    r"|[*]?[A-Za-z_$][\w.$\[\]'\"]*(?:\s*,\s*[*]?[A-Za-z_$][\w.$\[\]'\"]*)*\s*(?:[-+*/%|&^]|<<|>>|//|\*\*)?=[^=])"
    r"|.*(?:[;{}(\[]|\)\s*:|=>|->)\s*$"
)
_COMMENT_LINE = re.compile(r"\s*(?:#(?!#* )|//|/\*|\*|--|<!--)")  # neither code nor prose: not counted
_OPENER = re.compile(r".*(?:[:{(\[,\\]|=>)\s*(?:#.*|//.*)?$")
_TRIPLE = re.compile(r'"""|\'\'\'')


def code_lines(text: str) -> list[bool | None]:
    """Per line: True when it looks like code or continues it (a line indented past a code line that
    opens a block, a line inside a triple-quoted string), False for prose, None for blank and comment lines.

    >>> code_lines("def f(x):\\n    \'\'\'Add\\none.\'\'\'\\n\\n    return x + 1\\nThat is all.")
    [True, True, True, None, True, False]
    """
    out: list[bool | None] = []
    run_indent, in_string = -1, False  # indentation of the line that opened the run; inside a \'\'\'string
    for line in text.split("\n"):
        body = line.lstrip(" \t")
        indent = len(line) - len(body)
        in_run = in_string or (run_indent >= 0 and indent > run_indent and bool(body.strip()))
        if not body.strip() and not in_string:
            out.append(None)
            continue
        code = in_run or bool(_CODE_LINE.match(line))
        out.append(None if not code and _COMMENT_LINE.match(body) else code)
        if code and len(_TRIPLE.findall(line)) % 2:
            in_string = not in_string
        if not in_run:
            run_indent = indent if code and _OPENER.match(line) else -1
    return out


def looks_like_code(text: str) -> bool:
    """A text that is code as a whole, fences or not: 3+ lines, at least 3 in 4 of its lines that count (2 at least)
    (`code_lines`) are code. Text steps leave it as it is (`s + '  ' + s` keeps both spaces).

    >>> looks_like_code("def f(s):\\n    # pad\\n    return s + '  ' + s\\n"), looks_like_code("Hi.\\nYes: x = 1\\nOk")
    (True, False)
    """
    if text.count("\n") < 2:
        return False
    kinds = [k for k in code_lines(text) if k is not None]
    return len(kinds) >= 2 and sum(kinds) >= 0.75 * len(kinds)
