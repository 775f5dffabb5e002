"""Write the tech-articles example's raw data: a crawl of a small engineering blog, as HTML pages, seeded.

Run from the repository root: `python examples/tech-articles/generate_raw.py`. It writes one page per
article to `examples/tech-articles/raw/pages/*.html` (about 180 pages).

Planted dirt, so that prepare has work to do: navigation, cookie banners, `<script>` and `<style>`
blocks, entities, code blocks in `<pre>`, mirrored copies of the same page (exact duplicates after
stripping) and pages re-published with a changed sentence (near duplicates), mojibake, a few pages in
other languages, stub pages ("Page moved") and a tag index that is only a list of links.
"""

from __future__ import annotations

import html as htmllib
import random
import shutil
from pathlib import Path

HERE = Path(__file__).parent
TOPICS = {
    "caching": ("a cache in front of the database", "cache hit rate", "stale reads after an update"),
    "indexes": ("a composite index on the orders table", "query latency", "full table scans"),
    "queues": ("a message queue between the API and the workers", "throughput", "duplicate deliveries"),
    "retries": ("retries with exponential backoff", "error rate", "retry storms during an outage"),
    "logging": ("structured JSON logging", "time to debug an incident", "log volume and cost"),
    "containers": ("smaller container images", "deploy time", "missing system libraries"),
    "testing": ("property-based tests for the parser", "escaped bugs", "slow and flaky test suites"),
    "profiling": ("a sampling profiler in production", "CPU usage", "guessing at hot spots"),
    "migrations": ("online schema migrations", "downtime during releases", "locked tables"),
    "tracing": ("distributed tracing across services", "mean time to resolution", "blind spots"),
    "pooling": ("a connection pool for the database", "p99 latency", "exhausted connections"),
    "flags": ("feature flags for risky releases", "rollback time", "long-lived stale flags"),
}
LANGS = ["Python", "Go", "Rust", "TypeScript", "Java"]
INTRO = [
    "Last quarter our team introduced {thing}. This post explains why we did it, what went wrong on the "
    "way, and what we would do differently next time.",
    "When traffic doubled in the spring, we had to rethink how we handle {problem}. The answer turned out "
    "to be {thing}, and the results were better than we expected.",
    "This is a write-up of how we moved to {thing} in our {lang} services, with the numbers before and "
    "after and the mistakes we made along the way.",
]
BODY = [
    "The first version was simple. We measured {metric} for two weeks before changing anything, so that we "
    "had a baseline to compare against. Without that baseline every later discussion would have been about "
    "opinions rather than data.",
    "The main risk was {problem}. We wrote down the failure modes we could think of, added alerts for each "
    "of them, and rolled the change out to one region at a time over the course of a week.",
    "In the {lang} code base the change touched fewer files than we feared. Most of the work was in the "
    "tests: we added cases for the edge conditions that had bitten us in earlier incidents.",
    "After the rollout {metric} improved by {pct} percent. More importantly, the number of pages to the "
    "on-call engineer dropped, which the team noticed long before the dashboards showed it.",
    "Not everything went well. For a few days we saw {problem} again, because one service still used the "
    "old code path. A small script that compares configuration across services would have caught it.",
    "We also documented the design in the repository next to the code, so that new engineers can read why "
    "the system looks the way it does instead of reverse engineering it from the commit history.",
]
CODE = {
    "Python": "def backoff(attempt: int) -> float:\n    return min(30.0, 0.5 * 2 ** attempt)",
    "Go": "func backoff(attempt int) time.Duration {\n    return time.Duration(1<<attempt) * 500 * time.Millisecond\n}",
    "Rust": "fn backoff(attempt: u32) -> Duration {\n    Duration::from_millis(500 * 2u64.pow(attempt))\n}",
    "TypeScript": "const backoff = (attempt: number) => Math.min(30, 0.5 * 2 ** attempt);",
    "Java": "static long backoff(int attempt) {\n    return Math.min(30_000L, 500L << attempt);\n}",
}
OUTRO = [
    "If you are considering {thing} yourself, start by measuring. The change is rarely the hard part; "
    "knowing whether it helped is.",
    "We are hiring engineers who enjoy this kind of work. The lessons here apply well beyond {lang}, and we "
    "are happy to answer questions about the details.",
]
NAV = ('<nav class="top"><a href="/">Home</a> | <a href="/blog">Blog</a> | <a href="/jobs">Jobs</a> | '
       '<a href="/about">About</a></nav>')
COOKIE = ('<div class="cookie">We use cookies to improve your experience. By continuing you accept our '
          'cookie policy. <button>Accept</button></div>')
SCRIPT = '<script>window.dataLayer = window.dataLayer || []; gtag("config", "G-XXXX");</script>'
STYLE = "<style>body { font-family: sans-serif } .cookie { position: fixed }</style>"
OFF_LANGUAGE = [
    "Im letzten Quartal haben wir unsere Datenbank mit einem Zwischenspeicher ergänzt. In diesem Beitrag "
    "erklären wir, warum wir das getan haben, was dabei schiefging und was wir beim nächsten Mal anders "
    "machen würden. Zuerst haben wir zwei Wochen lang die Trefferquote gemessen, damit wir eine Grundlage "
    "für den Vergleich hatten. Danach haben wir die Änderung Region für Region ausgerollt. Die Trefferquote "
    "stieg deutlich. Wir empfehlen, immer zuerst zu messen und erst dann etwas zu ändern.",
    "Le trimestre dernier, notre équipe a mis en place une file de messages entre l'API et les workers. "
    "Cet article explique pourquoi, ce qui s'est mal passé en chemin et ce que nous ferions autrement la "
    "prochaine fois. Nous avons d'abord mesuré le débit pendant deux semaines, puis déployé le changement "
    "région par région, avec des alertes pour chaque mode de défaillance connu. Le débit a augmenté de moitié. "
    "Nous recommandons de toujours mesurer avant de changer quoi que ce soit.",
]


def article(rng: random.Random, topic: str) -> tuple[str, list[str], str]:
    """Title, paragraphs and the language of its code sample."""
    thing, metric, problem = TOPICS[topic]
    lang = rng.choice(LANGS)
    slots = {"thing": thing, "metric": metric, "problem": problem, "lang": lang, "pct": rng.randint(12, 64)}
    paras = [rng.choice(INTRO)] + rng.sample(BODY, rng.randint(3, 5)) + [rng.choice(OUTRO)]
    title = f"How we introduced {thing} ({lang})"
    return title, [p.format(**slots) for p in paras], lang


def page(rng: random.Random, title: str, paras: list[str], lang: str) -> str:
    body = [f"<h1>{title}</h1>", f'<p class="byline">Posted by the platform team &middot; {rng.randint(3, 12)} min read</p>']
    for i, p in enumerate(paras):
        p = p.replace(" and ", " &amp; ", 1) if rng.random() < 0.3 else p
        body.append(f"<p>{p}</p>")
        if i == 2:
            body.append(f'<pre><code class="{lang.lower()}">{htmllib.escape(CODE[lang])}</code></pre>')
    return (f"<!doctype html>\n<html><head><title>{title}</title>{STYLE}{SCRIPT}</head>\n<body>{NAV}\n"
            f"<article>\n" + "\n".join(body) + f"\n</article>\n{COOKIE}\n<footer>&copy; 2024 Example Engineering</footer>"
            "\n</body></html>\n")


def build(seed: int = 11) -> dict[str, str]:
    """File name -> HTML."""
    rng = random.Random(seed)
    pages: dict[str, str] = {}
    topics = list(TOPICS)
    for i in range(150):
        title, paras, lang = article(rng, topics[i % len(topics)])
        html = page(rng, title, paras, lang)
        if rng.random() < 0.06:  # a CMS that saved UTF-8 as Windows-1252 once
            html = html.replace("</article>", "<p>That’s it — thanks for reading!</p></article>")
            html = html.encode("utf-8").decode("cp1252", errors="replace")
        pages[f"post-{i:03d}.html"] = html
        if i % 12 == 5:  # the same post under /amp/: identical text
            pages[f"post-{i:03d}-amp.html"] = html.replace("<head>", f'<head><link rel="canonical" href="/blog/{i}">')
        if i % 15 == 7:  # re-published with one changed sentence
            pages[f"post-{i:03d}-updated.html"] = html.replace("</h1>", "</h1><p>Update: we fixed a typo.</p>")
    for i, text in enumerate(OFF_LANGUAGE):
        pages[f"post-intl-{i}.html"] = f"<html><body>{NAV}<article><p>{text}</p></article></body></html>"
    for i in range(6):
        pages[f"moved-{i}.html"] = f'<html><body><p>Page moved. <a href="/blog/{i}">Click here</a>.</p></body></html>'
    links = "".join(f'<li><a href="/tag/{t}">{t}</a></li>' for t in topics)
    pages["tags.html"] = f"<html><body>{NAV}<h1>Tags</h1><ul>{links}</ul></body></html>"
    return pages


def main() -> None:
    out = HERE / "raw" / "pages"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pages = build()
    for name, html in pages.items():
        (out / name).write_text(html, encoding="utf-8")
    print(f"wrote {len(pages)} pages to {out}")


if __name__ == "__main__":
    main()
