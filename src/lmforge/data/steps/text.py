"""Text rewriting steps: fix_unicode (ftfy) and normalize (Unicode form, control characters, whitespace).

Both rewrite prose only (`code_spans`): fenced, indented and inline code keep their bytes. Neither folds
character widths by default, so CJK text keeps its full-width punctuation (，？：！).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import ftfy

from lmforge.data.code_spans import map_prose, split_code
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
# inside a line (after its first visible character): 2+ spaces, or any tab / no-break space; the
# indentation at the start of a prose line is left alone (markdown list nesting depends on it)
_INNER_SPACES = re.compile(r"(?<=\S)(?: {2,}|[ \t\u00a0]*[\t\u00a0][ \t\u00a0]*)")
_BLANKS = re.compile(r"\n{3,}")


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
    """Mojibake and broken escapes, via ftfy, outside code: `"cafÃ©"` -> `"café"`.

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
        return map_prose(text, lambda t: unicode_form(ftfy.fix_text(t, config), self.form))


class Normalize(TextStep):
    """`"Ａ  b\\x07 \\n\\n\\n\\nc "` -> `"Ａ b\\n\\nc"`: NFC, controls out, runs of spaces and blank lines
    cut, all outside code (NFKC, `form: NFKC`, folds `Ａ` to `A` but keeps CJK punctuation)."""

    name = "normalize"

    def __init__(
        self,
        form: Form | None = "NFC",
        lowercase: bool = False,
        whitespace: bool = True,
        control: bool = True,
        keep_cjk_punct: bool = True,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.form, self.lowercase, self.whitespace, self.control = form, lowercase, whitespace, control
        self.keep_cjk_punct = keep_cjk_punct

    def apply(self, text: str) -> str:
        segs = split_code(text)
        parts = [self._prose(s.text) if s.kind == "prose" else s.text for s in segs]
        if self.whitespace and parts:  # ends stripped where they are prose; code keeps its indentation
            if segs[0].kind == "prose":
                parts[0] = parts[0].lstrip()
            if segs[-1].kind == "prose":
                parts[-1] = parts[-1].rstrip()
        return "".join(parts)

    def _prose(self, text: str) -> str:
        text = unicode_form(text, self.form, self.keep_cjk_punct)
        if self.control:
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
            text = _CONTROL.sub("", text.replace("\u2029", "\n\n"))
        if self.whitespace:
            text = _BLANKS.sub("\n\n", _INNER_SPACES.sub(" ", _TRAILING.sub("", text)))
        return text.lower() if self.lowercase else text
