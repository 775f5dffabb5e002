"""Text rewriting steps: fix_unicode (ftfy), normalize (NFKC, control characters, whitespace)."""

from __future__ import annotations

import re
import unicodedata

import ftfy

from lmforge.data.steps.base import TextStep

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_TRAILING = re.compile(r" *\n *")
_BLANKS = re.compile(r"\n{3,}")


class FixUnicode(TextStep):
    """Mojibake and broken escapes, via ftfy: `"cafÃ©"` -> `"café"`."""

    name = "fix_unicode"

    def __init__(self, normalization: str | None = "NFC", **kw) -> None:
        super().__init__(**kw)
        self.config = ftfy.TextFixerConfig(normalization=normalization)

    def apply(self, text: str) -> str:
        return ftfy.fix_text(text, self.config) if not text.isascii() else text


class Normalize(TextStep):
    """`"Ａ  b\\x07 \\n\\n\\n\\nc "` -> `"A b\\n\\nc"` (NFKC, controls out, runs of spaces and blank lines cut)."""

    name = "normalize"

    def __init__(
        self,
        form: str | None = "NFKC",
        lowercase: bool = False,
        whitespace: bool = True,
        control: bool = True,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.form, self.lowercase, self.whitespace, self.control = form, lowercase, whitespace, control

    def apply(self, text: str) -> str:
        if self.form and not text.isascii():
            text = unicodedata.normalize(self.form, text)
        if self.control:
            text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
        if self.whitespace:
            text = _BLANKS.sub("\n\n", _TRAILING.sub("\n", _SPACES.sub(" ", text))).strip()
        return text.lower() if self.lowercase else text
