"""Write the sentiment example's raw data: product reviews and tweets, a little messy, seeded.

Run from the repository root: `python examples/sentiment/generate_raw.py`. It writes
`examples/sentiment/raw/reviews.csv` (a shop's review export: `review`, `rating`, `sentiment`) and
`raw/tweets.jsonl` (`tweet`, `sentiment`, `user`). Labels: positive, negative, neutral.

Planted dirt, so that prepare has work to do: HTML entities and tags from the shop's rich-text editor,
mojibake (UTF-8 read as Windows-1252), exact and near duplicates (retweets, re-posted reviews), tweets in
other languages, one-word junk, a malformed JSON line and a tweet without a label.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
PRODUCTS = ["the blender", "these headphones", "the phone case", "this backpack", "the desk lamp",
            "the coffee grinder", "this keyboard", "the running shoes", "the kettle", "the webcam"]
ASPECTS = ["battery", "sound", "build quality", "price", "delivery", "packaging", "customer service",
           "size", "colour", "setup"]
POSITIVE = [
    "Absolutely love {p}, the {a} is fantastic and it arrived a day early.",
    "Really happy with {p}. Great {a}, would buy again.",
    "{P} exceeded my expectations, especially the {a}. Five stars!",
    "Best purchase this year: {p} just works and the {a} is excellent.",
    "I was sceptical, but {p} is brilliant. The {a} alone is worth it.",
    "So glad I picked {p}, the {a} is superb and my kids love it too.",
    "Wow, {p} is amazing value. Solid {a} and it looks great on my desk.",
]
NEGATIVE = [
    "Terrible. {P} broke after two days and the {a} is awful.",
    "Very disappointed with {p}, the {a} is poor and support never answered.",
    "Do not buy {p}. The {a} is a joke and I want my money back.",
    "{P} stopped working within a week. Worst {a} I have ever seen.",
    "Returned {p} immediately, the {a} was cheap and it smelled of plastic.",
    "Waste of money: {p} is flimsy and the {a} is far worse than advertised.",
    "Really annoyed, {p} arrived scratched and the {a} does not match the photos.",
]
NEUTRAL = [
    "{P} arrived on Tuesday. The {a} is as described, nothing special.",
    "It's okay. {P} does what it says, the {a} is average for the price.",
    "Received {p} today, haven't used it much yet. The {a} seems fine.",
    "{P} is fine I guess. The {a} is neither good nor bad.",
    "Ordered {p} for my office. Standard {a}, comes in a plain box.",
    "Not sure yet about {p}; the {a} is what you would expect.",
]
TWEET_EXTRA = {
    "positive": [" #happy", " 😍", " thanks @ShopCo!", " 🙌🙌", " #recommend"],
    "negative": [" #fail", " 😡", " @ShopCo fix this", " never again", " #refund"],
    "neutral": [" #shopping", "", " @ShopCo", " 📦", " fyi"],
}
OFF_LANGUAGE = [
    ("Super produit, je le recommande à tout le monde, livraison rapide !", "positive"),
    ("Das Kabel ist nach einer Woche kaputt gegangen, sehr enttäuschend.", "negative"),
    ("El envío llegó a tiempo, el producto es normal, nada especial.", "neutral"),
    ("Prodotto fantastico, la qualità è ottima e il prezzo è giusto.", "positive"),
    ("Produto horrível, quebrou no primeiro dia de uso, não comprem.", "negative"),
]
JUNK = ["ok", "meh", "!!!", "asdf", "...", "5 stars", "lol"]
TEMPLATES = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}
RATING = {"positive": [4, 5], "negative": [1, 2], "neutral": [3]}


def opinion(rng: random.Random, label: str) -> str:
    p, a = rng.choice(PRODUCTS), rng.choice(ASPECTS)
    return rng.choice(TEMPLATES[label]).format(p=p, P=p[0].upper() + p[1:], a=a)


def mess_up(rng: random.Random, text: str) -> str:
    """One kind of dirt, or none: what a shop export or a tweet scrape really looks like."""
    r = rng.random()
    if r < 0.10:
        return "<p>" + text.replace(" and ", " &amp; ").replace("'", "&#39;") + "</p><br/>"
    if r < 0.16:
        return (text + " – it’s “fine”").encode("utf-8").decode("cp1252", errors="replace")
    if r < 0.22:
        return "   " + "  ".join(text.split(" ")) + "  "
    return text


def near_duplicate(rng: random.Random, text: str) -> str:
    words = text.split()
    i = rng.randrange(len(words))
    words[i] = words[i].upper()
    return " ".join(words) + rng.choice(["", "!", " :)"])


def build(seed: int = 7) -> tuple[list[dict], list[str]]:
    """Reviews (rows) and tweets (JSON lines, some broken)."""
    rng = random.Random(seed)
    labels = ["positive"] * 5 + ["negative"] * 4 + ["neutral"] * 3
    reviews = []
    for _ in range(190):
        label = rng.choice(labels)
        text = mess_up(rng, opinion(rng, label))
        reviews.append({"review": text, "rating": rng.choice(RATING[label]), "sentiment": label})
    for rec in rng.sample(reviews, 12):  # the shop export re-posts some reviews
        reviews.append(dict(rec))
    for text, label in rng.sample(OFF_LANGUAGE, 3):
        reviews.append({"review": text, "rating": rng.choice(RATING[label]), "sentiment": label})
    tweets: list[str] = []
    kept: list[dict] = []
    for i in range(200):
        label = rng.choice(labels)
        text = mess_up(rng, opinion(rng, label) + rng.choice(TWEET_EXTRA[label]))
        rec = {"tweet": text, "sentiment": label, "user": f"@user{rng.randint(100, 999)}"}
        kept.append(rec)
        if i % 9 == 0 and kept:  # retweets: the same text again, or with a word shouted
            src = rng.choice(kept)
            dup = src["tweet"] if rng.random() < 0.5 else near_duplicate(rng, src["tweet"])
            kept.append({**src, "tweet": dup, "user": f"@user{rng.randint(100, 999)}"})
    for text, label in OFF_LANGUAGE[3:]:
        kept.append({"tweet": text, "sentiment": label, "user": "@viaggi"})
    for junk in JUNK:
        kept.append({"tweet": junk, "sentiment": rng.choice(["positive", "neutral"]), "user": "@bot"})
    kept.append({"tweet": "Great lamp, shame about the cable", "user": "@user512"})  # never labelled
    tweets = [json.dumps(r, ensure_ascii=False) for r in kept]
    tweets.insert(57, '{"tweet": "the kettle is great but the lid, "sentiment": "positive"')  # truncated export
    rng.shuffle(reviews)
    return reviews, tweets


def main() -> None:
    reviews, tweets = build()
    raw = HERE / "raw"
    raw.mkdir(exist_ok=True)
    with (raw / "reviews.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["review", "rating", "sentiment"])
        w.writeheader()
        w.writerows(reviews)
    (raw / "tweets.jsonl").write_text("\n".join(tweets) + "\n", encoding="utf-8")
    print(f"wrote {len(reviews)} reviews and {len(tweets)} tweet lines to {raw}")


if __name__ == "__main__":
    main()
