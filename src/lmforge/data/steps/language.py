"""language: identify with py3langid (ships its model), keep listed languages, store the guess in meta.

What decides, in order (docs/prepare.md, "Language identification"):
1. the evidence: numbers, list markers, links, emails and emoji are no language's; Latin words (product
   names) inside text of another script are not either. They are stripped before the model reads it.
2. the model: the probabilities of a macrolanguage's members are summed (`keep: [zh]` = zh + wuu + yue).
3. the script, for a short text the model is unsure of (Han -> zh, kana -> ja, Hangul -> ko, ...).

The prose is read, not the code: code blocks (code_blocks.prose_and_code) are set aside first, since a
listing is no language's evidence. A record with code and no prose letters (or too few for the model to be
sure of, in a script several languages write) is kept for the code rules: meta.language null,
meta.language_by "code".
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from lmforge.data.code_blocks import prose_and_code
from lmforge.data.record import Record
from lmforge.data.steps.base import Step
from lmforge.data.steps.language_groups import check_code, expand, macro, script_guess
from lmforge.data.words import NOSPACE

_IDENTIFIER: Any = None


def identifier() -> Any:
    """One py3langid identifier per process, with probabilities normalised to 0..1."""
    global _IDENTIFIER
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        # float16 weights make numpy matmuls slow: float32 costs ~57 MB per process, saves ~30% CPU
        _IDENTIFIER.nb_ptc = _IDENTIFIER.nb_ptc.astype("float32")
    return _IDENTIFIER


_URL = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.)[A-Za-z0-9./:%?=&#~+@_-]*"
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    r"|[A-Za-z0-9._-]*\.(?:com|net|org|edu|gov|cn|html?|php|aspx?)\b[A-Za-z0-9./:%?=&#~+_-]*"
)
_MARKER = re.compile(r"^[ \t]*(?:[-*•·●◆■>]+|[(（\[]?[ \t]*(?:\d+|[A-Za-z])[ \t]*[)）\].、:：,，])", re.M)
_NUMBER = re.compile(r"[#№]?\d+(?:[.,:/-]\d+)*%?")
# emoji, pictographs, private-use characters (broken encodings), variation selectors and ZWJ
_SYMBOL = re.compile(
    "["
    + "".join(
        re.escape(chr(c)) for c in range(0x2000, 0x10000) if unicodedata.category(chr(c)) in ("So", "Sk")
    )
    + "\ue000-\uf8ff\ufe00-\ufe0f\u200d\U0001f000-\U0001faff]"
)
_REPEAT = re.compile(r"([^\w\s])\1+")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]+(?:['’.\-][A-Za-z\u00c0-\u024f\u1e00-\u1eff]+)*")
_LETTER = re.compile(r"[^\W\d_]")


def evidence(text: str) -> str:
    """The text the model should read: what no language owns is stripped.

    >>> evidence("2）早餐还算可以，iPhone 15 很好用 👍 www.example.com")
    '早餐还算可以， 很好用'
    """
    text = _SYMBOL.sub(" ", _URL.sub(" ", text))
    text = _NUMBER.sub(" ", _MARKER.sub(" ", text))
    letters = len(_LETTER.findall(text))
    latin = sum(len(m) for m in _LATIN.findall(text))
    nospace = len(NOSPACE.findall(text))
    # a Han (kana, Hangul) character carries about a short Latin word (as words.script_language weighs it)
    if latin and 4 * nospace + (letters - latin - nospace) >= latin:
        text = _LATIN.sub(" ", text)
    return " ".join(_REPEAT.sub(r"\1", text).split())


def group_score(probs: dict[str, float], code: str) -> float:
    """A code's probability with its members': `group_score({"zh": .45, "wuu": .42, "en": .1}, "zh")` -> 0.87"""
    return sum(probs.get(label, 0.0) for label in expand(code))


class Language(Step):
    """`{language: {keep: [zh], min_score: 0.65}}` -> meta.language = "zh", meta.language_score = 0.99,
    meta.language_by = "model" (or "script": a short text the model was unsure of).

    keep: null keeps every language above min_score (tags). `languages: {zh: {min_score: 0.5}}` sets one
    language's threshold. A text with fewer than `short` letters (after stripping numbers, links, ...)
    that the model is unsure of is decided by its script where one language writes it; `short: 0` turns
    that off. The first `chars` characters decide: py3langid walks its automaton in Python byte by byte.
    """

    name = "language"

    def __init__(
        self,
        keep: list[str] | None = None,
        min_score: float = 0.65,
        chars: int = 500,
        short: int = 50,
        languages: dict[str, dict[str, float]] | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        for code in keep or []:
            check_code(code)
        self.keep_langs = set(keep) if keep else None
        self.min_score, self.chars, self.short = min_score, chars, short
        self.min_scores = {code: _threshold(code, opts) for code, opts in (languages or {}).items()}
        for name, value in (("min_score", min_score), ("chars", chars), ("short", short)):
            if value < 0 or (name == "min_score" and value > 1) or (name == "chars" and value == 0):
                raise ValueError(f"{name}: {value} is out of range (min_score 0..1, chars > 0, short >= 0)")

    def threshold(self, lang: str) -> float:
        return self.min_scores.get(lang, self.min_score)

    def decide(self, probs: dict[str, float]) -> tuple[str, float]:
        """The language and its score: the best kept code that passes its threshold, else the top label
        (as its macrolanguage unless `keep` names the label itself)."""
        if self.keep_langs:
            best = max(sorted(self.keep_langs), key=lambda c: group_score(probs, c))
            if group_score(probs, best) >= self.threshold(best):
                return best, group_score(probs, best)
        label = max(probs, key=probs.__getitem__)
        lang = label if self.keep_langs and label in self.keep_langs else macro(label)
        return lang, group_score(probs, lang)

    def process(self, rec: Record) -> Any:
        parts = prose_and_code(rec.text(self.on)[: self.chars * 40])  # the prose of the first ~20,000 chars
        raw = parts.prose[: self.chars]
        text = evidence(raw)
        if not _LETTER.search(text):
            if parts.code:
                rec.meta.update(language=None, language_score=0.0, language_by="code")
                return True, "not judged: code only"
            if not _LETTER.search(raw):
                rec.meta.update(language=None, language_score=0.0, language_by="none")
                return True, "not judged: no letters"
            text = raw  # only links or emails had letters: judge what there is
        probs = dict(identifier().rank(text))
        lang, score = self.decide(probs)
        by = "model"
        if score < self.threshold(lang) and len(_LETTER.findall(text)) < self.short:
            guess = script_guess(text)
            if guess is not None:
                lang, score, by = guess, group_score(probs, guess), "script"
            elif parts.code:  # "Run:" above a listing: too little prose to say, the code rules judge it
                rec.meta.update(language=None, language_score=round(score, 4), language_by="code")
                return True, "not judged: code with little prose"
        label = max(probs, key=probs.__getitem__)
        rec.meta.update(language=lang, language_score=round(score, 4), language_by=by)
        if label != lang:
            rec.meta["language_label"] = label  # the model's own top label, for audits
        if self.keep_langs is not None and lang not in self.keep_langs:
            return False, f"language {lang} not in {sorted(self.keep_langs)} (score {score:.2f})"
        if by == "script":
            return True, "decided by script: short text"
        if score < self.threshold(lang):
            return False, f"language score too low ({lang} {score:.2f} < {self.threshold(lang)})"
        return True


def _threshold(code: str, opts: dict[str, float]) -> float:
    """`languages: {zh: {min_score: 0.5}}` -> 0.5 for zh; any other key or value is a ValueError."""
    check_code(code, "languages")
    if set(opts) != {"min_score"} or not 0 <= opts["min_score"] <= 1:
        raise ValueError(f"languages.{code}: expected {{min_score: 0..1}}, got {opts!r}")
    return opts["min_score"]
