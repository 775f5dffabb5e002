"""Seeded generators: a web-like corpus with planted duplicates, and SFT chat data with a length spread.

Web docs are English-like sentences over a 400-word vocabulary (so two unrelated documents share almost
no word 5-gram). Some documents are junk that a quality filter should drop (too short, bullet lists,
repeated lines, "lorem ipsum", code braces, javascript notices), some carry PII, and a share are planted
copies of an earlier document: exact (case/space changes) or near (a few words edited).

>>> docs = web_docs(100, seed=0); len(docs), docs[0]["id"]
(100, 'd0')
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

STOP = "the be to of and that have with a in is it for on as at by this from".split()
CONTENT = (
    "people time year way day thing man world life hand part child eye woman place work week case point "
    "company number group problem fact house water money story night month lot right study book job word "
    "business issue side kind head service friend father power hour game line end member law car city "
    "community name president team minute idea kid body information back parent face others level office "
    "door health person art war history party result change morning reason research girl guy moment air "
    "teacher force education foot boy age policy process music market sense nation plan college interest "
    "death experience effect class control care field development role effort rate heart drug show leader "
    "light voice wife police mind price report decision son view relationship town road arm difference "
    "value building action model season society tax director position player record paper space ground "
    "form event official matter center couple site project activity star table need court oil situation "
    "cost industry figure street image phone data picture practice piece land product doctor wall patient "
    "worker news test movie north love support technology step baby computer type attention film tree "
    "source organization hair window evidence population site river garden bridge engine letter signal "
    "answer method theory series stage island forest valley machine summer winter spring autumn station "
    "garden kitchen bottle camera battery cloud planet ocean mountain desert village harbor castle tower"
).split()
VERBS = "makes takes gives finds tells asks works seems feels leaves keeps holds brings begins shows hears plays runs moves lives believes".split()
JUNK = [
    lambda r: " ".join(r.choices(CONTENT, k=r.randint(3, 20))),  # too short, no stop words
    lambda r: "\n".join("- " + " ".join(r.choices(CONTENT, k=4)) for _ in range(r.randint(8, 20))),
    lambda r: "\n".join([sentence(r)] * r.randint(8, 15)),  # one line repeated
    lambda r: paragraph(r, 8) + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.",
    lambda r: paragraph(r, 8) + "\nfunction f() { return 1; }",
    lambda r: paragraph(r, 8) + "\nPlease enable JavaScript in your browser to view this page.",
]


def sentence(r: random.Random) -> str:
    words = []
    for _ in range(r.randint(8, 20)):
        words.append(r.choice(STOP) if r.random() < 0.35 else r.choice(CONTENT))
    words.insert(r.randint(1, len(words) - 1), r.choice(VERBS))
    return " ".join(words).capitalize() + r.choice([".", ".", ".", "!", "?"])


def paragraph(r: random.Random, n: int) -> str:
    return "\n".join(sentence(r) for _ in range(n))


def pii(r: random.Random) -> str:
    return r.choice(
        [
            f"Write to {r.choice(CONTENT)}.{r.randint(1, 99)}@example.com for details.",
            f"Call +1 415 {r.randint(200, 999)} {r.randint(1000, 9999)} today.",
            f"The server at 192.168.{r.randint(0, 255)}.{r.randint(1, 254)} is down.",
        ]
    )


def near_copy(r: random.Random, text: str, rate: float) -> str:
    """Replace about `rate` of the words: at 2% the word 5-gram Jaccard is ~0.8, at 6% ~0.55."""
    lines = []
    for line in text.split("\n"):
        ws = line.split(" ")
        lines.append(" ".join(r.choice(CONTENT) if r.random() < rate else w for w in ws))
    return "\n".join(lines)


def web_docs(n: int, seed: int = 0, dup_rate: float = 0.1, near_rate: float = 0.1) -> list[dict[str, Any]]:
    """n documents `{"id": "dK", "text": ...}`; `meta` says how each was made (orig, junk, exact, near)."""
    r = random.Random(seed)
    docs: list[dict[str, Any]] = []
    for i in range(n):
        u = r.random()
        if docs and u < dup_rate:
            src = r.choice(docs)
            text = src["text"].upper() if r.random() < 0.3 else src["text"].replace(" ", "  ")
            kind, of = "exact", src["id"]
        elif docs and u < dup_rate + near_rate:
            src = r.choice(docs)
            text, kind, of = (
                near_copy(r, src["text"], r.choice([0.005, 0.01, 0.02, 0.04, 0.08])),
                "near",
                src["id"],
            )
        elif u < dup_rate + near_rate + 0.1:
            text, kind, of = r.choice(JUNK)(r), "junk", None
        else:
            text = paragraph(r, r.randint(6, 16))
            if r.random() < 0.1:
                text += "\n" + pii(r)
            kind, of = "orig", None
        docs.append({"id": f"d{i}", "text": text, "kind": kind, "of": of})
    return docs


def write_jsonl_parts(docs: list[dict[str, Any]], folder: Path, parts: int) -> list[Path]:
    """Docs in `parts` contiguous files part{k}.jsonl, each line `{"id", "text"}`."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(docs) // parts)
    paths = []
    for k in range(parts):
        p = folder / f"part{k}.jsonl"
        with p.open("w", encoding="utf-8") as f:
            for d in docs[k * size : (k + 1) * size]:
                f.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
        paths.append(p)
    return paths


TOPICS = [
    "billing",
    "shipping",
    "passwords",
    "refunds",
    "the mobile app",
    "invoices",
    "account access",
    "the api",
    "subscriptions",
    "data export",
]


def sft_records(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Support-desk prompt/response pairs; response length is log-normal (median ~60 words, tail ~400)."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        topic = r.choice(TOPICS)
        prompt = f"I have a question about {topic}. " + " ".join(sentence(r) for _ in range(r.randint(1, 3)))
        n_sent = max(1, min(30, int(r.lognormvariate(1.6, 0.8))))
        steps = [f"Step {k + 1}: {sentence(r)}" for k in range(n_sent)]
        response = (
            f"Thanks for asking about {topic}. Here is what to do.\n"
            + "\n".join(steps)
            + f"\nThat should fix your problem with {topic}."
        )
        out.append({"prompt": prompt, "response": response})
    return out
