"""exact_dedup, near_dedup and decontaminate on Chinese, Japanese and Korean text: words from the
language's segmenter, so a one-character edit is a near-duplicate and two different texts are not."""

from __future__ import annotations

import numpy as np
from cjk_corpus import JA_PROSE, KO_PROSE, ZH_PROSE

from lmforge.data.steps import StepContext, build_steps
from lmforge.data.steps.dedup import NearDedup, dedup_words, normalize_for_dedup
from lmforge.data.steps.shingle_hash import word_hashes


def step(spec, **ctx):
    return build_steps([spec], StepContext(**ctx))[0]


def exact_jaccard(a: str, b: str, n: int = 5) -> float:
    nd = NearDedup(ngram=n, ctx=StepContext())
    sa, sb = set(nd.shingles(a)), set(nd.shingles(b))
    return len(sa & sb) / len(sa | sb)


def test_chinese_words_in_the_normal_form():
    assert dedup_words("我昨天买了一台电脑，很好！") == ["我", "昨天", "买", "了", "一台", "电脑", "很", "好"]
    assert normalize_for_dedup("我 喜欢 猫。") == normalize_for_dedup("我喜欢猫") == "我 喜欢 猫"
    hashes, lens = word_hashes(["我喜欢猫", "猫"])  # the numpy hashes see the same words
    assert lens.tolist() == [3, 1] and hashes[2] == hashes[3]


def test_near_dedup_finds_a_one_character_edit_of_a_long_chinese_text():
    long_text = ZH_PROSE[0] + ZH_PROSE[8]  # ~300 characters
    edited = long_text.replace("屏幕", "荧幕", 1)  # one character changed
    assert sum(a != b for a, b in zip(long_text, edited, strict=True)) == 1
    texts = [long_text, *ZH_PROSE[1:8], edited]
    n = step("near_dedup")
    drops = n.decide(
        n.keys(texts), [f"a:{i}" for i in range(len(texts))], fetch=lambda ix: {i: texts[i] for i in ix}
    )
    assert list(drops) == [len(texts) - 1] and drops[len(texts) - 1].startswith(
        "near-duplicate of a:0 (jaccard 0.9"
    )
    assert exact_jaccard(long_text, edited) > 0.9


def test_near_dedup_does_not_merge_different_chinese_texts():
    texts = ZH_PROSE + JA_PROSE + KO_PROSE
    n = step({"near_dedup": {"threshold": 0.5}})
    drops = n.decide(
        n.keys(texts), [f"a:{i}" for i in range(len(texts))], fetch=lambda ix: {i: texts[i] for i in ix}
    )
    assert drops == {}
    # two reviews that share their topic and many words but are different texts
    assert exact_jaccard(ZH_PROSE[0], ZH_PROSE[2]) < 0.05


def test_near_dedup_keys_do_not_depend_on_the_batch():
    n = step("near_dedup")
    alone = n.keys([ZH_PROSE[3]])
    batch = n.keys(["English text first.", ZH_PROSE[3], JA_PROSE[0]])
    assert np.array_equal(alone[0], batch[1])


def test_exact_dedup_ignores_spacing_and_punctuation_in_chinese():
    e = step("exact_dedup")
    texts = ["我喜欢这本书。", "我 喜欢 这本书！", "我喜欢那本书。"]
    assert e.decide(e.keys(texts), ["a", "b", "c"]) == {1: "exact duplicate of a"}


def test_decontaminate_finds_a_chinese_overlap(runner):
    runner.write("eval/test.jsonl", '{"question": "' + ZH_PROSE[9] + '"}\n')
    d = step({"decontaminate": {"against": ["eval/*.jsonl"]}}, base_dir=runner.root)
    copied = "开头的一句话。" + ZH_PROSE[9][20:80] + "结尾。"
    verdict = d.keep(copied)
    assert (
        verdict[0] is False
        and verdict[1].startswith("eval overlap (13-gram")
        and "eval/test.jsonl:1" in verdict[1]
    )
    assert d.keep(ZH_PROSE[10]) is True
