"""classical: stop-word removal and stemming (Snowball) or lemmatisation (NLTK WordNet), per language.

Meant for classical classifiers (TF-IDF + logistic regression); LLMs want the text as people wrote it,
so this step is never on by default. Words are the language's (words.py: Chinese, Japanese, Korean and
Thai segmented, so `我喜欢猫` becomes `我 喜欢 猫`). `reduce: stem` uses the Snowball stemmer of the
record's language (snowballstemmer: 30+ languages; English is Porter2); languages without one (zh, ja,
ko, th) keep their words. Stop words: a built-in English list for English and records without a
language, FineWeb-2's list for zh/ja/ko/th, none for other languages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import snowballstemmer

from lmforge.data.record import Record
from lmforge.data.steps.base import TextStep
from lmforge.data.steps.lang_rules import stop_words
from lmforge.data.words import MARKS, language, script_language, split

STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with i me my we our you your he him his she her its them what which who whom am "
    "were been being have has had do does did so than too very can just from up down out over under again".split()
)
_WORD = re.compile(rf"[\w{MARKS}]+|[^\w\s{MARKS}]")
# ISO 639-1 (what the language step writes) -> Snowball's algorithm names
SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
    "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french",
    "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho",
    "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip


def stemmer(lang: str | None) -> Callable[[list[str]], list[str]] | None:
    """The Snowball stemmer of a language (None = English), as a list -> list function; None if it has none.

    >>> stemmer("en")(["running", "cats", "generously"])
    ['run', 'cat', 'generous']
    """
    name = SNOWBALL.get((lang or "en").split("-")[0].lower())
    if name is None or name not in snowballstemmer.algorithms():
        return None
    return snowballstemmer.stemmer(name).stemWords


def wordnet_lemmatizer() -> Callable[[str], str]:
    """NLTK's WordNet lemmatizer; a ValueError (exit 2) when NLTK or its WordNet data is not installed."""
    try:
        from nltk.stem import WordNetLemmatizer

        lem = WordNetLemmatizer()
        lem.lemmatize("tests")  # raises LookupError when the wordnet data is not installed
    except (ImportError, LookupError):
        raise ValueError(
            "reduce: lemmatize needs NLTK with its WordNet data (python -m nltk.downloader wordnet), "
            "which is not installed; use reduce: stem"
        ) from None
    return lem.lemmatize


class Classical(TextStep):
    """`{classical: {stop_words: true, reduce: stem}}`: "The cats were running" -> "cat run"."""

    name = "classical"

    def __init__(
        self, stop_words: bool = True, reduce: str | None = "stem", lowercase: bool = True, **kw
    ) -> None:
        super().__init__(**kw)
        if reduce not in ("stem", "lemmatize", None):
            raise ValueError(f"reduce must be stem, lemmatize or null, got {reduce!r}")
        self.stop_words, self.lowercase, self.reduce = stop_words, lowercase, reduce
        self.lemmatize = wordnet_lemmatizer() if reduce == "lemmatize" else None
        self._stemmers: dict[str | None, Any] = {}

    def process(self, rec: Record) -> Any:
        for key in rec.text_keys(self.on):
            text = rec.get(key)
            rec.set(key, self.apply(text, language(text, rec.meta.get("language"))))
        return True

    def apply(self, text: str, lang: str | None = None) -> str:
        lang = lang or script_language(text)
        ws = split(text.lower() if self.lowercase else text, _WORD.findall, lang)
        base = (lang or "en").split("-")[0].lower()
        if self.stop_words:
            stop = STOP_WORDS if base == "en" else frozenset(stop_words(base))
            ws = [w for w in ws if w.lower() not in stop]
        if self.lemmatize is not None and base == "en":
            return " ".join(map(self.lemmatize, ws))
        if self.reduce is not None:  # stem; lemmatize outside English stems too (WordNet is English)
            if lang not in self._stemmers:
                self._stemmers[lang] = stemmer(lang)
            stem = self._stemmers[lang]
            ws = stem(ws) if stem is not None else ws
        return " ".join(ws)
