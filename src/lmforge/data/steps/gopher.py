"""gopher_quality and gopher_repetition: the Gopher paper's rules (Rae et al. 2021, table A1), with
datatrove's defaults; every threshold is an option, null turns a rule off. Words are the language's
(words.counted_words: segmented for zh/ja/ko/th, punctuation and symbol tokens are not words), and
zh/ja/ko/th records get FineWeb-2's thresholds (lang_rules.py).

Both judge a record's prose: its code blocks (fenced, indented, `<pre>`, runs of code lines without
fences: code_blocks.prose_and_code) are set aside, the thresholds apply to what remains, and a record with
code and too little prose to judge is kept for the code rules (code_quality) with a note.

Where this departs from datatrove, on purpose (docs/prepare.md, "Quality rules on short texts"):
- a record under 50 words is not judged (kept with a note; `short: reject` rejects it), and
  gopher_quality's `min_doc_words` is off by default: set it to reject short records outright;
- the ratios divide by words, not by tokens with punctuation (datatrove counts `，` as a word without
  a letter: 0.73 of Chinese news tokens have one, 0.95 of its words);
- the top n-gram share counts an n-gram that occurs more than once: datatrove's find_top_duplicate
  takes the most frequent one even when it occurs once, so every text under ~25 words "repeats"."""

from __future__ import annotations

import re
from collections import Counter
from itertools import compress
from typing import Any, Literal

from lmforge.data.code_blocks import prose_and_code
from lmforge.data.steps.code_quality import hand_off
from lmforge.data.steps.lang_rules import (
    GOPHER_QUALITY,
    GOPHER_REPETITION,
    LINES,
    SHORT,
    UNSET,
    LanguageFilter,
    LanguageRules,
    judge_short,
    judges_lines,
)
from lmforge.data.words import counted_words

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
QUALITY_DEFAULTS: dict[str, Any] = {
    **SHORT,
    **LINES,  # the bullet and ellipsis line rules judge a short record of 5 lines or more
    "min_doc_words": None,  # Gopher's 50 is min_words_to_judge's; set, it rejects below it, judges the rest
    "max_doc_words": 100_000,
    "min_avg_word_length": 3,
    "max_avg_word_length": 10,
    "max_symbol_word_ratio": 0.1,
    "max_bullet_lines_ratio": 0.9,
    "max_ellipsis_lines_ratio": 0.3,
    "min_alpha_words_ratio": 0.8,
    "min_stop_words": 2,
    "stop_words": STOP_WORDS,
}
REPETITION_DEFAULTS: dict[str, Any] = {
    **SHORT,  # for the n-gram rules: one 4-gram said twice is 16% of a 50-word text
    "dup_line_frac": 0.3,
    "dup_para_frac": 0.3,
    "dup_line_char_frac": 0.2,
    "dup_para_char_frac": 0.2,
    "top_n_grams": {2: 0.20, 3: 0.18, 4: 0.16},
    "dup_n_grams": {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
}


class GopherQuality(LanguageFilter):
    """Keeps prose: up to 100k words, mean word length 3-10, few `#`/ellipses/bullets, >= 2 stop words
    (English; zh: mean word length 1-5, 2 of FineWeb-2's Chinese stop words, ...). A record under
    `min_words_to_judge` (50) words is kept unjudged, or rejected with `short: reject`; `min_doc_words: N`
    instead rejects records under N words and judges all others. Words are the prose's: a record with code
    and fewer words of prose than these is left to code_quality, whatever `short` says."""

    name = "gopher_quality"

    def __init__(
        self,
        min_words_to_judge: int | None = UNSET,
        short: Literal["keep", "reject"] = UNSET,
        min_lines_to_judge: int | None = UNSET,
        min_doc_words: int | None = UNSET,
        max_doc_words: int | None = UNSET,
        min_avg_word_length: float | None = UNSET,
        max_avg_word_length: float | None = UNSET,
        max_symbol_word_ratio: float | None = UNSET,
        max_bullet_lines_ratio: float | None = UNSET,
        max_ellipsis_lines_ratio: float | None = UNSET,
        min_alpha_words_ratio: float | None = UNSET,
        min_stop_words: int | None = UNSET,
        stop_words: list[str] | None = UNSET,
        languages: dict[str, dict[str, Any]] | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.rules = LanguageRules(QUALITY_DEFAULTS, GOPHER_QUALITY, dict(locals()), languages)
        self._stop: dict[str | None, set[str]] = {}

    def keep(self, text: str, lang: str | None = None) -> Any:
        parts = prose_and_code(text)
        text, o = parts.prose, self.rules.get(lang)
        ws = counted_words(text, lang)
        n = len(ws) or 1
        code = hand_off(parts, len(ws), o["min_doc_words"] or o["min_words_to_judge"])
        if code is not None:
            return code
        # min_doc_words, when set, is the length rule in place of min_words_to_judge/short: records under
        # it are rejected, all others judged (`min_doc_words: 20` judges a 30-word review)
        if o["min_doc_words"] and len(ws) < o["min_doc_words"]:
            return False, f"too few words ({len(ws)} < {o['min_doc_words']})"
        if o["max_doc_words"] and len(ws) > o["max_doc_words"]:
            return False, f"too many words ({len(ws)} > {o['max_doc_words']})"
        short = None if o["min_doc_words"] else judge_short(o, len(ws))
        if short is not None:
            lines = text.splitlines()
            if not judges_lines(o, short, lines):
                return short
            return self._lines(o, lines) or (True, "word rules not judged: shorter than 50 words")
        mean = sum(map(len, ws)) / n
        if o["min_avg_word_length"] and mean < o["min_avg_word_length"]:
            return False, f"mean word length too low ({mean:.1f} < {o['min_avg_word_length']})"
        if o["max_avg_word_length"] and mean > o["max_avg_word_length"]:
            return False, f"mean word length too high ({mean:.1f} > {o['max_avg_word_length']})"
        if o["max_symbol_word_ratio"]:
            if text.count("#") / n > o["max_symbol_word_ratio"]:
                return False, f"too many '#' ({text.count('#') / n:.2f} per word)"
            ell = (text.count("...") + text.count("…")) / n
            if ell > o["max_symbol_word_ratio"]:
                return False, f"too many ellipses ({ell:.2f} per word)"
        bad_lines = self._lines(o, text.splitlines() or [""])
        if bad_lines:
            return bad_lines
        alpha = sum(any(c.isalpha() for c in w) for w in ws) / n
        if o["min_alpha_words_ratio"] and alpha < o["min_alpha_words_ratio"]:
            return False, f"too few words with a letter ({alpha:.2f} < {o['min_alpha_words_ratio']})"
        stop = self._stop.get(lang)
        if stop is None:
            stop = self._stop[lang] = set(o["stop_words"] or STOP_WORDS)
        stops = len(stop.intersection(ws))
        if o["min_stop_words"] and stops < o["min_stop_words"]:
            return False, f"too few stop words ({stops} < {o['min_stop_words']})"
        return True

    @staticmethod
    def _lines(o: dict[str, Any], lines: list[str]) -> tuple[bool, str] | None:
        """The rules over lines: (False, reason) or None."""
        bullets = sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines)
        if o["max_bullet_lines_ratio"] and bullets > o["max_bullet_lines_ratio"]:
            return False, f"too many bullet lines ({bullets:.2f})"
        ends = sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines)
        if o["max_ellipsis_lines_ratio"] and ends > o["max_ellipsis_lines_ratio"]:
            return False, f"too many lines ending in an ellipsis ({ends:.2f})"
        return None


_PARAS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


def duplicates(items: list[str]) -> tuple[int, int]:
    """(repeated elements, their characters): ["a", "bb", "a"] -> (1, 1)."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n, chars = n + 1, chars + len(x)
        else:
            seen.add(x)
    return n, chars


def top_ngram_chars(ws: list[str], n: int) -> int:
    """Characters of the most frequent n-gram times its count, 0 when no n-gram occurs twice:
    `top_ngram_chars(["a", "b", "a", "b"], 2)` -> 6, `top_ngram_chars(["a", "b", "c"], 2)` -> 0.

    datatrove's find_top_duplicate counts the top n-gram even when it occurs once, so a short text
    with no repeat "repeats" (a 12-word review's one 4-gram is ~30% of it); a rule named for repeats
    counts repeats. N-grams are tuples (zip runs in C); the space-joined length is sum(len) + n - 1.
    Ties go to the first seen, as with datatrove's joined strings."""
    grams = Counter(zip(*[ws[i:] for i in range(n)], strict=False))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count if count > 1 else 0


def dup_ngram_chars(ws: list[str], n: int) -> int:
    """Characters in repeated n-grams, skipping past each repeat (datatrove's find_all_duplicate).

    >>> dup_ngram_chars("a b c a b c a b".split(), 2)  # ab bc ca seen, then ab (at 3) and ca (at 5) repeat
    4
    """
    # every position's n-gram joined at once (map/zip run in C). The walk steps past a position whose n-gram
    # occurs once in the text (it joins `seen` but is never met again), so it visits only the repeated ones
    grams = list(map("".join, zip(*[ws[i:] for i in range(n)], strict=False)))
    counts = Counter(grams)
    if len(counts) == len(grams):  # the usual case: nothing repeats
        return 0
    seen: set[str] = set()
    chars = i = 0
    for j in compress(range(len(grams)), map((1).__lt__, map(counts.__getitem__, grams))):
        if j < i:
            continue
        gram = grams[j]
        if gram in seen:
            chars += len(gram)
            i = j + n
        else:
            seen.add(gram)
            i = j + 1
    return chars


class GopherRepetition(LanguageFilter):
    """Drops text that repeats lines, paragraphs or n-grams beyond the Gopher fractions (per language:
    FineWeb-2's duplicate-line and n-gram fractions for zh/ja/ko/th).

    The prose is judged, not its code (code_blocks.prose_and_code): closing `}` lines, ``` fences and a
    repeated `import` are what code looks like, not spam. The n-grams of a record with code and under
    `min_words_to_judge` words of prose are left unjudged for the code rules (code_quality). Nor are the
    n-grams of a record under `min_words_to_judge` (50) words (`short: reject` rejects it); its lines
    and paragraphs are: a line said 20 times is junk however short."""

    name = "gopher_repetition"

    def __init__(
        self,
        min_words_to_judge: int | None = UNSET,
        short: Literal["keep", "reject"] = UNSET,
        dup_line_frac: float | None = UNSET,
        dup_para_frac: float | None = UNSET,
        dup_line_char_frac: float | None = UNSET,
        dup_para_char_frac: float | None = UNSET,
        top_n_grams: dict[int, float] | None = UNSET,
        dup_n_grams: dict[int, float] | None = UNSET,
        languages: dict[str, dict[str, Any]] | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.rules = LanguageRules(REPETITION_DEFAULTS, GOPHER_REPETITION, dict(locals()), languages)

    def keep(self, text: str, lang: str | None = None) -> Any:
        o = self.rules.get(lang)
        if not text:
            return False, "empty text"
        split = prose_and_code(text)
        text = split.prose
        if not text.strip():
            return hand_off(split, 0, 1) or True  # no prose: code only, or blank
        for unit, parts in (("paragraph", _PARAS.split(text.strip())), ("line", _LINES.split(text))):
            n, chars = duplicates(parts)
            if o[f"dup_{unit[:4]}_frac"] and n / len(parts) > o[f"dup_{unit[:4]}_frac"]:
                return False, f"duplicate {unit}s ({n / len(parts):.2f} of {unit}s)"
            if o[f"dup_{unit[:4]}_char_frac"] and chars / len(text) > o[f"dup_{unit[:4]}_char_frac"]:
                return False, f"duplicate {unit} characters ({chars / len(text):.2f})"
        ws = counted_words(text, lang)
        short = hand_off(split, len(ws), o["min_words_to_judge"])  # lines and paragraphs: at any length
        if short is None:
            short = judge_short(o, len(ws), "n-grams")
        if short is not None:
            return short
        for n, frac in sorted((o["top_n_grams"] or {}).items()):
            share = top_ngram_chars(ws, int(n)) / len(text)
            if share > frac:
                return False, f"top {n}-gram too frequent ({share:.2f} > {frac})"
        for n, frac in sorted((o["dup_n_grams"] or {}).items()):
            chars = dup_ngram_chars(ws, int(n))
            if chars == 0:  # no repeated n-gram means no repeated longer one either
                break
            if chars / len(text) > frac:
                return False, f"repeated {n}-grams ({chars / len(text):.2f} > {frac})"
        return True
