"""Words by language (lmforge.data.words): the segmenters, the script check, the fallbacks, and the steps
that count words (length, stats) on Chinese, Japanese, Korean, Thai and mixed records."""

from __future__ import annotations

import random
import re

import pytest

from lmforge.data.record import Record
from lmforge.data.stats import TextStats, merge_text_stats
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.steps.base import WORD_RE
from lmforge.data.words import (
    WEB_WORD,
    cut,
    graphemes,
    language,
    plain_words,
    script_language,
    segmenter,
    split,
    web_words,
)

ZH = "我昨天在网上买了一台新的笔记本电脑，送货很快。"
JA = "昨日、駅前の新しいラーメン屋に行きました。"
KO = "어제 새로 생긴 카페에 갔는데 커피가 정말 맛있었어요."
TH = "เมื่อวานฉันไปร้านอาหารใหม่ใกล้บ้าน อาหารอร่อยมาก"


def test_each_script_gets_its_language():
    assert [script_language(t) for t in (ZH, JA, KO, TH, "Hello there, friend.")] == [
        "zh",
        "ja",
        "ko",
        "th",
        None,
    ]
    assert script_language("東京都庁の展望台から富士山が見えました。") == "ja"  # kanji-heavy, with kana
    assert script_language("The word 谢谢 means thank you in Chinese, and people say it often.") is None
    assert script_language("我用 Python 写了一个脚本：for i in range(3): print(i)") == "zh"
    assert language(ZH, "ja") == "ja" and language(ZH, None) == "zh"  # meta.language wins


def test_chinese_words_come_from_jieba():
    assert web_words(ZH) == [
        "我",
        "昨天",
        "在",
        "网上",
        "买",
        "了",
        "一台",
        "新",
        "的",
        "笔记本电脑",
        "，",
        "送货",
        "很快",
        "。",
    ]
    assert plain_words(ZH) == [
        "我",
        "昨天",
        "在",
        "网上",
        "买",
        "了",
        "一台",
        "新",
        "的",
        "笔记本电脑",
        "送货",
        "很快",
    ]
    # spaces between Chinese characters are layout: the same words either way
    assert plain_words("我 喜欢 这 本书") == plain_words("我喜欢这本书") == ["我", "喜欢", "这", "本书"]


def test_japanese_korean_thai_segmenters():
    assert web_words(JA) == [
        "昨日",
        "、",
        "駅前",
        "の",
        "新しい",
        "ラーメン",
        "屋",
        "に",
        "行き",
        "まし",
        "た",
        "。",
    ]
    ko = plain_words(KO)
    assert ko[:5] == ["어제", "새로", "생긴", "카페", "에"] and ko.count("갔") == 1  # 갔 = 가 + 았, once
    assert plain_words(TH) == ["เมื่อวาน", "ฉัน", "ไป", "ร้านอาหาร", "ใหม่", "ใกล้", "บ้าน", "อาหาร", "อร่อย", "มาก"]
    # a Han-only text: meta.language ja sends it to MeCab, zh (or the script) to jieba
    assert split("東京都庁舎", str.split, "ja") == ["東京", "都庁", "舎"]
    assert split("東京都庁舎", str.split) == ["東", "京都", "庁", "舎"]
    assert all(segmenter(lang) is not None for lang in ("zh", "ja", "ko", "th"))


def test_mixed_chinese_english_and_code():
    text = "请运行 pip install lmforge，然后执行 `lmforge prepare exp.yaml` 命令。It's fast!"
    ws = web_words(text)
    assert ws[:2] == ["请", "运行"] and "lmforge" in ws and "exp.yaml" in ws and "It's" in ws
    assert ["然后", "执行"] == ws[ws.index("然后") : ws.index("然后") + 2]
    assert plain_words(text).count("命令") == 1 and "，" not in plain_words(text)


def test_space_delimited_text_is_split_as_before():
    rng = random.Random(0)
    alphabet = "abcdefgh XY.,'-!?  \n\t0123éüß—…"
    for _ in range(300):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert web_words(t) == WORD_RE.findall(t) and plain_words(t) == t.split()
        assert split(t, str.split) == t.split()
    assert web_words("Hindi हिन्दी भाषा") == ["Hindi", "हिन्दी", "भाषा"]  # marks stay inside words
    assert re.findall(r"\w+", "हिन्दी") != ["हिन्दी"]  # (which \w alone would cut)
    assert WEB_WORD.findall("don't stop... ok") == WORD_RE.findall("don't stop... ok")


def test_fallbacks_without_a_segmenter():
    assert graphemes("กิน ข้าว") == ("กิ", "น", "ข้", "า", "ว")  # marks kept with their base character
    assert cut("ສະບາຍດີ", "other") == ("ສ", "ະ", "ບ", "າ", "ຍ", "ດີ")  # Lao: no segmenter kept offline
    assert script_language("ສະບາຍດີ ເຈົ້າ") == "lo"


def test_length_keeps_a_short_chinese_sentence():
    length = build_steps([{"length": {"min_words": 3}}], StepContext())[0]
    sentence = "这个手机的电池非常耐用。"  # 12 characters, 6 words (1 by whitespace)
    assert len(sentence) == 12
    assert length.process(Record("a", {"text": sentence}, {})) is True
    assert length.process(Record("b", {"text": "很好。"}, {})) == (False, "too short (2 words < 3)")  # 很/好
    assert length.process(Record("c", {"text": "我们都很喜欢"}, {"language": "zh"})) is True
    assert length.process(Record("d", {"text": "one two"}, {})) == (False, "too short (2 words < 3)")


def test_stats_count_chinese_words_not_sentences():
    s = TextStats()
    for t in ["我喜欢这台笔记本电脑，屏幕很清晰。", "笔记本电脑的屏幕很大。", "Great laptop, great screen."]:
        s.add(t)
    stats = merge_text_stats([s.result(top_k=10, window=2)], top_k=10, window=2)
    counts = {r["word"]: r["count"] for r in stats["word_frequencies"]["top"]}
    assert counts["笔记本电脑"] == 2 and counts["屏幕"] == 2 and counts["great"] == 2
    assert not any(len(w) > 6 for w in counts)  # no whole sentence as one "word"
    pairs = [tuple(r["pair"]) for r in stats["cooccurrence"]["top"]]
    assert ("屏幕", "笔记本电脑") in pairs or ("笔记本电脑", "屏幕") in pairs


@pytest.mark.parametrize("text", [ZH, JA, KO, TH])
def test_segmenting_is_the_same_in_every_call(text):
    cut.cache_clear()
    first = web_words(text)
    assert web_words(text) == first and web_words(text + " ") == first
