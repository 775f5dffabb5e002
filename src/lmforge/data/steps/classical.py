"""classical: stop-word removal and stemming or lemmatisation, via NLTK when present.

Meant for classical classifiers (TF-IDF + logistic regression); LLMs want the text as people wrote it,
so this step is never on by default. Without NLTK (or its wordnet data for `lemmatize`), a small built-in
English stop-word list and a suffix stripper are used instead.
"""

from __future__ import annotations

import re
from typing import Any

from lmforge.data.steps.base import TextStep

STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with i me my we our you your he him his she her its them what which who whom am "
    "were been being have has had do does did so than too very can just from up down out over under again".split()
)
_WORD = re.compile(r"\w+|[^\w\s]")


def _stemmer(kind: str) -> Any:
    try:
        if kind == "stem":
            from nltk.stem import PorterStemmer

            return PorterStemmer().stem
        from nltk.stem import WordNetLemmatizer

        lem = WordNetLemmatizer()
        lem.lemmatize("tests")  # raises LookupError when the wordnet data is not installed
        return lem.lemmatize
    except (ImportError, LookupError):
        return lambda w: re.sub(r"(ing|edly|ed|ies|es|s)$", "", w) if len(w) > 4 else w


class Classical(TextStep):
    """`{classical: {stop_words: true, reduce: stem}}`: "The cats were running" -> "cat run"."""

    name = "classical"

    def __init__(
        self, stop_words: bool = True, reduce: str | None = "stem", lowercase: bool = True, **kw
    ) -> None:
        super().__init__(**kw)
        self.stop_words, self.lowercase = stop_words, lowercase
        self.reduce = _stemmer(reduce) if reduce in ("stem", "lemmatize") else None

    def apply(self, text: str) -> str:
        ws = _WORD.findall(text.lower() if self.lowercase else text)
        if self.stop_words:
            ws = [w for w in ws if w.lower() not in STOP_WORDS]
        if self.reduce:
            ws = [self.reduce(w) for w in ws]
        return " ".join(ws)
