"""length: keep records whose text is within bounds in characters, words or tokens (all optional).

Words are the language's (words.plain_words): whitespace-separated, and Chinese, Japanese, Korean and
Thai segmented, so a 12-character Chinese sentence has its 6 or 7 words, not 1."""

from __future__ import annotations

from typing import Any

from lmforge.data.record import Record
from lmforge.data.steps.base import Filter
from lmforge.data.words import language, plain_words


class Length(Filter):
    """`{length: {min_words: 3, max_chars: 20000}}`; token bounds count with `tokenizer` (default: model.name)."""

    name = "length"

    def __init__(
        self,
        min_chars: int | None = None,
        max_chars: int | None = None,
        min_words: int | None = None,
        max_words: int | None = None,
        min_tokens: int | None = None,
        max_tokens: int | None = None,
        tokenizer: str | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.bounds = {
            "chars": (min_chars, max_chars),
            "words": (min_words, max_words),
            "tokens": (min_tokens, max_tokens),
        }
        self.tokenizer_name = tokenizer
        self._tok: Any = None

    def _measure(self, unit: str, text: str, lang: str | None) -> int:
        if unit == "chars":
            return len(text)
        if unit == "words":
            return len(plain_words(text, lang))
        if self._tok is None:  # loaded on first use, once per worker
            from lmforge.models import load_tokenizer

            self._tok = load_tokenizer(self.tokenizer_name or self.ctx.model)
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def process(self, rec: Record) -> Any:
        text = rec.text(self.on)
        return self.keep(text, language(text, rec.meta.get("language")))

    def keep(self, text: str, lang: str | None = None) -> Any:
        for unit, (lo, hi) in self.bounds.items():
            if lo is None and hi is None:
                continue
            n = self._measure(unit, text, lang)
            if lo is not None and n < lo:
                return False, f"too short ({n} {unit} < {lo})"
            if hi is not None and n > hi:
                return False, f"too long ({n} {unit} > {hi})"
        return True
