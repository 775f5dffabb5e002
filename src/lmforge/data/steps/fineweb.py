"""fineweb: FineWeb's extra rules (Penedo et al. 2024) with datatrove's defaults; zh/ja/ko/th records
get FineWeb-2's thresholds (lang_rules.py) and the language's words (words.counted_words).

A line ends in punctuation when it ends with a sentence mark of its script (words.ends_sentence: 。！？；
…… in CJK, । ॥, ؟ ۔ ؛, ։, ። ፧ ፨, ...; a closing quote or bracket may follow the mark, as in 。” or
.)): datatrove's TERMINAL_PUNCTUATION has ~150 scripts' marks but not ；, …… or 。”. A record under
`min_words_to_judge` (50) words is not judged (`short: reject` rejects it): FineWeb's thresholds were set
on documents that had passed Gopher's 50-word minimum, and one unpunctuated line is 100% of a tweet.
A short record of `min_lines_to_judge` (5) lines or more is judged: every rule here is about lines.

The rules judge the prose: code blocks (code_blocks.prose_and_code) are set aside, so fence lines and `}`
lines are neither duplicate lines nor lines without punctuation; a record with code and under
`min_words_to_judge` words of prose is left to the code rules (code_quality), kept with a note."""

from __future__ import annotations

from typing import Any, Literal

from lmforge.data.code_blocks import prose_and_code
from lmforge.data.steps.code_quality import hand_off
from lmforge.data.steps.gopher import duplicates
from lmforge.data.steps.lang_rules import (
    FINEWEB,
    LINES,
    SHORT,
    UNSET,
    LanguageFilter,
    LanguageRules,
    judge_short,
    judges_lines,
)
from lmforge.data.words import counted_words, ends_sentence

DEFAULTS: dict[str, Any] = {
    **SHORT,
    **LINES,
    "line_punct_thr": 0.12,
    "line_punct_exclude_zero": False,
    "short_line_thr": 0.67,
    "short_line_length": 30,
    "char_duplicates_ratio": 0.01,
    "new_line_ratio": 0.3,
    "stop_chars": None,  # None: the sentence marks of every script; a list: lines ending in one of them
}


class FineWeb(LanguageFilter):
    """Drops lists and menus: < 12% of lines end in punctuation, > 67% of lines <= 30 characters,
    duplicate-line characters > 1%, or more than 0.3 newlines per word. Null turns a rule off."""

    name = "fineweb"

    def __init__(
        self,
        min_words_to_judge: int | None = UNSET,
        short: Literal["keep", "reject"] = UNSET,
        min_lines_to_judge: int | None = UNSET,
        line_punct_thr: float | None = UNSET,
        line_punct_exclude_zero: bool = UNSET,
        short_line_thr: float | None = UNSET,
        short_line_length: int = UNSET,
        char_duplicates_ratio: float | None = UNSET,
        new_line_ratio: float | None = UNSET,
        stop_chars: list[str] | None = UNSET,
        languages: dict[str, dict[str, Any]] | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.rules = LanguageRules(DEFAULTS, FINEWEB, dict(locals()), languages)

    def keep(self, text: str, lang: str | None = None) -> Any:
        o, parts = self.rules.get(lang), prose_and_code(text)
        text = parts.prose
        words = counted_words(text, lang)
        code = hand_off(parts, len(words), o["min_words_to_judge"])
        if code is not None:
            return code
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return False, "empty text"
        short = judge_short(o, len(words))
        if short is not None and not judges_lines(o, short, lines):  # a menu of 10 lines is judged
            return short
        stops = tuple(o["stop_chars"] or ())
        punct = sum(line.endswith(stops) if stops else ends_sentence(line) for line in lines) / len(lines)
        thr = o["line_punct_thr"]
        if thr is not None and punct < thr and not (punct == 0 and o["line_punct_exclude_zero"]):
            return False, f"few lines end in punctuation ({punct:.2f} < {thr})"
        short = sum(len(line) <= o["short_line_length"] for line in lines) / len(lines)
        if o["short_line_thr"] is not None and short > o["short_line_thr"]:
            return False, f"too many short lines ({short:.2f} > {o['short_line_thr']})"
        dup = duplicates(lines)[1] / max(len(text.replace("\n", "")), 1)
        if o["char_duplicates_ratio"] is not None and dup > o["char_duplicates_ratio"]:
            return False, f"duplicate line characters ({dup:.3f} > {o['char_duplicates_ratio']})"
        ratio = text.count("\n") / max(len(words), 1)
        if o["new_line_ratio"] is not None and ratio > o["new_line_ratio"]:
            return False, f"too many newlines per word ({ratio:.2f} > {o['new_line_ratio']})"
        return True
