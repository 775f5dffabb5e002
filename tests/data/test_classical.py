"""classical: Snowball stems (parity with the snowballstemmer package, and with NLTK's own Snowball where
installed), per language, and Chinese words segmented rather than stemmed."""

from __future__ import annotations

import re

import pytest
import snowballstemmer

from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.steps.classical import STOP_WORDS
from lmforge.errors import UserError

TEXT = (
    "The runners were running quickly through the flooded streets, generously helping stranded families "
    "and their dogs; agreed meetings happened daily, universities studied the organizational failures."
)


def classical(spec="classical"):
    return build_steps([spec], StepContext())[0]


def test_stems_are_snowballs():
    tokens = [w for w in re.findall(r"\w+|[^\w\s]", TEXT.lower()) if w not in STOP_WORDS]
    expected = snowballstemmer.stemmer("english").stemWords(tokens)
    assert classical().apply(TEXT).split() == expected
    assert "run" in expected and "runn" not in expected  # not the old suffix stripper's "runn"


def test_stems_agree_with_nltks_snowball():
    nltk_snowball = pytest.importorskip("nltk.stem.snowball")
    theirs = nltk_snowball.SnowballStemmer("english")
    ours = classical({"classical": {"stop_words": False}}).apply(TEXT).split()
    words = re.findall(r"\w+|[^\w\s]", TEXT.lower())
    agree = sum(o == theirs.stem(w) for o, w in zip(ours, words, strict=True))
    assert agree >= len(words) - 1  # Snowball 3 stems "universities" -> "universiti", NLTK's -> "univers"


def test_each_language_gets_its_stemmer_and_stop_words():
    step = classical()
    r = Record("a", {"text": "Les chats couraient rapidement vers les maisons"}, {"language": "fr"})
    step.process(r)
    from lmforge.data.steps.lang_rules import stop_words

    assert "les" in stop_words("fr")  # FineWeb-2's French stop words: removed, the rest stemmed
    kept = [w for w in r.orig["text"].lower().split() if w not in stop_words("fr")]
    assert r.fields["text"] == " ".join(snowballstemmer.stemmer("french").stemWords(kept))
    assert len(kept) == 5
    zh = Record("b", {"text": "我昨天在网上买了一台新的笔记本电脑。"}, {})
    step.process(zh)
    assert zh.fields["text"] == "我 昨天 网上 买 一台 新 笔记本电脑 。"  # 在/了/的: Chinese stop words


def test_bad_reduce_and_lemmatize_without_wordnet_are_config_errors():
    with pytest.raises(UserError, match="reduce must be"):
        classical({"classical": {"reduce": "porter"}})
    try:
        from nltk.stem import WordNetLemmatizer

        WordNetLemmatizer().lemmatize("tests")
    except (ImportError, LookupError):
        with pytest.raises(UserError, match="needs NLTK with its WordNet data"):
            classical({"classical": {"reduce": "lemmatize"}})
    else:
        assert classical({"classical": {"reduce": "lemmatize"}}).apply("the geese") == "goose"
