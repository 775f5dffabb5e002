"""Text rewriting steps: fix_unicode (ftfy) and normalize (Unicode form, control characters, whitespace).

Both rewrite prose only (`code_spans`): fenced, indented and inline code keep their bytes. Neither folds
character widths by default, so CJK text keeps its full-width punctuation (，？：！).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import ftfy

from lmforge.data.code_spans import code_lines, looks_like_code, map_prose, split_code
from lmforge.data.steps.base import TextStep

Form = Literal["NFC", "NFKC", "NFD", "NFKD"]

# CJK symbols and punctuation, vertical/compatibility/small forms, full-width ASCII punctuation,
# half-width CJK punctuation, and the ellipsis (Chinese writes …… ): NFKC would fold these to ASCII
# (，-> , ？-> ? …-> ...), which rewrites CJK text
_CJK_PUNCT = re.compile(
    r"[\u2025\u2026\u3000-\u303f\ufe10-\ufe1f\ufe30-\ufe6f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+"
)
# C0/C1 controls but tab and newline, DEL, zero-width space, BOM. Kept: ZWNJ/ZWJ (Persian, Indic
# scripts, emoji sequences) and the LRM/RLM bidi marks, which are part of the text they sit in
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_TRAILING = re.compile(r"[ \t\u00a0]+(?=\r?\n)")
# `inner_spaces: true` only. Inside a line (after its first visible character): 2+ spaces, or any tab /
# no-break space; the indentation at the start of a prose line is left alone (markdown list nesting)
_INNER_SPACES = re.compile(r"(?<=\S)(?: {2,}|[ \t\u00a0]*[\t\u00a0][ \t\u00a0]*)")
_BLANKS = re.compile(r"\n{3,}")
# no-break, en/em/thin/hair and other fixed-width spaces; not the ideographic space U+3000, which is
# part of CJK text (a full-width indent)
_UNICODE_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f]")


def unicode_form(text: str, form: str | None, keep_cjk_punct: bool = True) -> str:
    """Unicode normal form; under NFKC/NFKD, CJK punctuation is left as written (when `keep_cjk_punct`).

    >>> unicode_form("Ｆｕｌｌ，ｗｉｄｔｈ？", "NFKC")
    'Full，width？'
    """
    if not form or text.isascii():
        return text
    if form in ("NFC", "NFD") or not keep_cjk_punct or not _CJK_PUNCT.search(text):
        return unicodedata.normalize(form, text)
    out, i = [], 0
    for m in _CJK_PUNCT.finditer(text):
        out += [unicodedata.normalize(form, text[i : m.start()]), m.group()]
        i = m.end()
    return "".join([*out, unicodedata.normalize(form, text[i:])])


class FixUnicode(TextStep):
    """Mojibake and broken escapes, via ftfy, outside code: `"cafÃ©"` -> `"café"`. A text that looks like
    code as a whole (`looks_like_code`) is left as it is, fences or not.

    ftfy's width folding (`fix_character_width`: ，-> ,) and quote straightening (`uncurl_quotes`:
    “” -> "", the quotes Chinese is written with) are off unless asked for."""

    name = "fix_unicode"

    def __init__(
        self,
        normalization: Form | None = "NFC",
        fix_character_width: bool = False,
        uncurl_quotes: bool = False,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.form = normalization
        base = dict(
            fix_character_width=fix_character_width,
            uncurl_quotes=uncurl_quotes,
            normalization=None,  # applied after, by unicode_form (CJK punctuation kept under NFKC)
            explain=False,
        )
        # ftfy's "auto" unescapes entities only when the text has no "<"; decided on the whole text,
        # not per prose segment, so "&lt;b&gt;" in an HTML record is not turned into a tag
        self.configs = {u: ftfy.TextFixerConfig(unescape_html=u, **base) for u in (True, False)}

    def apply(self, text: str) -> str:
        if text.isascii():  # nothing for ftfy to repair (entities stay: strip_html decodes them)
            return text
        config = self.configs["<" not in text]
        out = map_prose(text, lambda t: unicode_form(ftfy.fix_text(t, config), self.form))
        if out != text and looks_like_code(text):  # `'cafÃ©'` in a test of decoders is meant
            self.notes["code left as is"] += 1
            return text
        return out


class Normalize(TextStep):
    """`"Ａ  b\\x07 \\n\\n\\n\\nc "` -> `"Ａ  b\\n\\nc"`: NFC, controls out, trailing spaces and runs of blank lines
    cut, exotic spaces (no-break, thin, ...) made plain on prose lines, all outside code. A text that looks
    like code as a whole (`looks_like_code`: indentation runs, `def`/`{`/`;`/`=` lines) is left as it is,
    fences or not. Spaces inside a line stay unless `inner_spaces: true` (`"a  b\\tc"` -> `"a b c"`, prose
    lines only). NFKC (`form: NFKC`) folds `Ａ` to `A` but keeps CJK punctuation.

    What it changed is counted per record in the funnel's notes (`code left as is`, `trailing spaces
    removed`, `blank-line runs cut`, ...)."""

    name = "normalize"

    def __init__(
        self,
        form: Form | None = "NFC",
        lowercase: bool = False,
        whitespace: bool = True,
        control: bool = True,
        keep_cjk_punct: bool = True,
        inner_spaces: bool = False,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.form, self.lowercase, self.whitespace, self.control = form, lowercase, whitespace, control
        self.keep_cjk_punct, self.inner_spaces = keep_cjk_punct, inner_spaces
        self._changes: set[str] | None = None  # what changed in the record being processed

    def process(self, rec):
        # each kind of change is counted once per record, however many of its fields it touched
        self._changes = set()
        try:
            return super().process(rec)
        finally:
            self.notes.update(self._changes)
            self._changes = None

    def apply(self, text: str) -> str:
        if not looks_like_code(text):
            return self._tidy(text)
        changes, self._changes = self._changes, set()  # what it would change is not counted...
        tidied = self._tidy(text)
        self._changes = changes
        if tidied != text:  # ...only that code was kept from it
            self._note("code left as is")
        return text

    def _tidy(self, text: str) -> str:
        segs = split_code(text)
        parts = [self._prose(s.text) if s.kind == "prose" else s.text for s in segs]
        if self.whitespace and parts:  # ends stripped where they are prose; code keeps its indentation
            first, last = segs[0].kind == "prose", segs[-1].kind == "prose"
            ends = (parts[0], parts[-1])
            parts[0] = parts[0].lstrip() if first else parts[0]
            parts[-1] = parts[-1].rstrip() if last else parts[-1]
            if (parts[0], parts[-1]) != ends:
                self._note("ends stripped")
        return "".join(parts)

    def _prose(self, text: str) -> str:
        text = self._change(
            "unicode form applied", text, lambda t: unicode_form(t, self.form, self.keep_cjk_punct)
        )
        if self.control:
            text = self._change("line ends unified", text, _unify_line_ends)
            text = self._change("control characters removed", text, lambda t: _CONTROL.sub("", t))
        if self.whitespace:
            text = self._change("trailing spaces removed", text, lambda t: _TRAILING.sub("", t))
            text = self._change("blank-line runs cut", text, lambda t: _BLANKS.sub("\n\n", t))
            text = self._change(
                "unicode spaces replaced", text, lambda t: _on_prose_lines(t, _UNICODE_SPACES, " ")
            )
        if self.inner_spaces:
            text = self._change(
                "inner spaces squeezed", text, lambda t: _on_prose_lines(t, _INNER_SPACES, " ")
            )
        return self._change("lowercased", text, str.lower) if self.lowercase else text

    def _change(self, kind: str, text: str, fn) -> str:
        out = fn(text)
        if out != text:
            self._note(kind)
        return out

    def _note(self, kind: str) -> None:
        if self._changes is None:  # apply() called on its own: one count per text
            self.notes[kind] += 1
        else:
            self._changes.add(kind)


def _unify_line_ends(text: str) -> str:
    """CRLF, CR and the Unicode line and paragraph separators -> "\\n" (a paragraph separator: a blank line)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    return text.replace("\u2029", "\n\n")


def _on_prose_lines(text: str, pattern: re.Pattern, repl: str) -> str:
    """`pattern` replaced on the lines that do not look like code (`code_lines`): a line of code written
    in the middle of prose keeps its spacing."""
    if not pattern.search(text):
        return text
    lines = text.split("\n")
    kinds = code_lines(text)
    return "\n".join(
        line if kind else pattern.sub(repl, line) for line, kind in zip(lines, kinds, strict=True)
    )
