"""Build the general-ability probes that ship with lmforge (src/lmforge/evaluation/probes/).

- wordnet_mc.jsonl: "Which word means ...?" multiple choice from WordNet 3.0 (Princeton University,
  WordNet 3.0 license: use, copy, modify and distribute with its notice, kept in probes/NOTICE.md),
  as Debian's `wordnet-base` package installs it (/usr/share/wordnet). Each item is the definition of a
  common word's most frequent sense (frequency: the sense-tagged counts of cntlist.rev), its word and
  three other common words of the same part of speech, shuffled.
- python_docs_prose.jsonl: paragraphs of English prose from the Python 3.11 documentation (Python Software
  Foundation License Version 2, as its copyright page says), as Debian's `python3.11-doc` installs it
  (/usr/share/doc/python3.11/html): <p> paragraphs without code, inline literals or prompts.

Deterministic: the same packages give the same files.
Run: apt-get install -y wordnet-base python3.11-doc && python scripts/build_probes.py
"""

from __future__ import annotations

import html
import json
import random
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
PYDOCS = Path("/usr/share/doc/python3.11/html")
OUT = Path(__file__).resolve().parents[1] / "src/lmforge/evaluation/probes"
SEED = 0
ITEMS = {"noun": 80, "verb": 60, "adj": 60}  # 200 items
COMMON = 800  # each item's word and its distractors are among this many most frequent lemmas of its POS
PASSAGES = 80
PASSAGE_CHARS = (200, 480)


def tag_counts() -> Counter:
    """Sense-tagged occurrences of each (lemma, ss_type digit) in the SemCor-based cntlist.rev."""
    counts: Counter = Counter()
    for line in (WORDNET / "cntlist.rev").read_text(encoding="utf-8").splitlines():
        key, _sense, count = line.split()
        lemma, rest = key.split("%")
        counts[(lemma, rest[0])] += int(count)
    return counts


def first_senses(pos: str) -> dict[str, int]:
    """lemma -> offset of its most frequent synset (the first one index.<pos> lists)."""
    out = {}
    for line in (WORDNET / f"index.{pos}").read_text(encoding="utf-8").splitlines():
        if line.startswith(" "):
            continue  # the license header
        fields = line.split()
        out[fields[0]] = int(fields[-int(fields[2])])
    return out


def synset(pos: str, offset: int) -> tuple[list[str], str]:
    """The words of a synset and its definition (the gloss without its quoted examples)."""
    with (WORDNET / f"data.{pos}").open("rb") as f:
        f.seek(offset)
        line = f.readline().decode("utf-8")
    head, gloss = line.split(" | ", 1)
    fields = head.split()
    n_words = int(fields[3], 16)
    words = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).lower() for i in range(n_words)]
    definition = gloss.split('; "')[0].split(";")[0].strip().strip('"').strip()
    return words, definition


def wordnet_items() -> list[dict]:
    counts, rng, items, seen = tag_counts(), random.Random(SEED), [], set()
    for pos, digit in (("noun", "1"), ("verb", "2"), ("adj", "3")):
        senses = first_senses(pos)
        pool = [w for w in senses if w.isalpha() and len(w) >= 3 and counts[(w, digit)] > 0]
        pool = sorted(pool, key=lambda w: (-counts[(w, digit)], w))[:COMMON]
        picked = []
        for word in rng.sample(pool, len(pool)):
            words, definition = synset(pos, senses[word])
            if len(picked) == ITEMS[pos]:
                break
            if len(definition) < 12 or word[:4] in definition.lower() or definition in seen:
                continue  # a definition that gives the word away, or a synonym's already asked
            # distractors: not a synonym, not the word's look-alike, not a word of the definition
            others = [w for w in pool if w not in words and w[:4] != word[:4] and w[:4] not in definition]
            choices = [word, *rng.sample(others, 3)]
            rng.shuffle(choices)
            question = f"Question: Which word means: {definition}?\nAnswer:"
            seen.add(definition)
            picked.append({"question": question, "choices": choices, "answer": choices.index(word)})
        items += [{"id": f"wordnet-{pos}-{i}", "pos": pos, **item} for i, item in enumerate(picked)]
    return items


class Paragraphs(HTMLParser):
    """The text of each <p>, and whether it holds code (<code>, <pre>, literal spans) or a prompt."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, bool]] = []
        self.depth, self.text, self.code = 0, [], False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "p":
            self.depth, self.text, self.code = 1, [], False
        elif self.depth and tag in ("code", "pre", "kbd", "samp"):
            self.code = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.depth:
            self.found.append((" ".join("".join(self.text).split()), self.code))
            self.depth = 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(html.unescape(data))


def prose_passages() -> list[dict]:
    found = []
    pages = [*PYDOCS.glob("tutorial/*.html"), *PYDOCS.glob("howto/*.html"), *PYDOCS.glob("faq/*.html")]
    for page in sorted(pages):
        parser = Paragraphs()
        parser.feed(page.read_text(encoding="utf-8"))
        for text, code in parser.found:
            low, high = PASSAGE_CHARS
            prose = not code and ">>>" not in text and "()" not in text and text.endswith(".")
            if prose and low <= len(text) <= high:
                found.append({"source": str(page.relative_to(PYDOCS)), "text": text})
    picked = sorted(random.Random(SEED).sample(range(len(found)), PASSAGES))
    return [{"id": f"pydocs-{i}", **found[j]} for i, j in enumerate(picked)]


def write(name: str, rows: list[dict]) -> None:
    path = OUT / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{path}: {len(rows)} rows, {path.stat().st_size} bytes")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write("wordnet_mc.jsonl", wordnet_items())
    write("python_docs_prose.jsonl", prose_passages())
