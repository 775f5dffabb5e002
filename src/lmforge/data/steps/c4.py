"""c4: the C4 rules (Raffel et al. 2020) as datatrove implements them: drop bad lines, then judge the page.

Lines go when they lack terminal punctuation, have < 3 words, a word > 1,000 characters, mention
javascript, or cookie/terms boilerplate; the record goes when it has "lorem ipsum" or "{", or fewer than
5 sentences remain. Kept records lose the dropped lines (in every text field).

Words are the language's (words.plain_words: Chinese lines have words, not one). Sentences end at the
marks of every script (words.ends_sentence: 。！？；…… in CJK, । ॥, ؟ ۔ ؛, ։, ። ፧ ፨, ...; a closing quote
or bracket after the mark), and Chinese/Japanese/Korean policy boilerplate goes, in every language (no
English line ends in "。", so English results are datatrove's). Thai, written without sentence marks,
keeps lines without terminal punctuation (lang_rules.C4) and counts a space between Thai words as a
sentence end. On Chinese news the line rule removes what it removes from English pages: headlines,
bylines, captions ("（附图片１张）") and lines ending in "：".

A record under `min_words_to_judge` (50) words is neither judged nor rewritten (`short: reject` rejects
it): C4's 5 sentences are a web page's, and a tweet or a review has fewer.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from lmforge.data.code_blocks import code_blocks, prose_and_code
from lmforge.data.record import Record
from lmforge.data.steps.base import Step
from lmforge.data.steps.code_quality import hand_off
from lmforge.data.steps.lang_rules import C4 as C4_RULES
from lmforge.data.steps.lang_rules import SHORT, UNSET, LanguageRules, judge_short
from lmforge.data.words import count_sentences, ends_sentence, language, plain_words

INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
QUOTES = ('"', "'")  # datatrove keeps a line that ends in a straight quote, with or without a mark
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
# the same boilerplate in zh (simplified, traditional), ja, ko: lmforge's list, not a published one
POLICY_CJK = (
    "隐私政策",
    "隱私政策",
    "隱私權政策",
    "使用条款",
    "使用條款",
    "用户协议",
    "プライバシーポリシー",
    "利用規約",
)
POLICY_CJK += ("개인정보처리방침", "개인정보 처리방침", "이용약관")
DEFAULTS: dict[str, Any] = {
    **SHORT,
    "remove_citations": True,
    "filter_no_terminal_punct": True,
    "min_num_sentences": 5,
    "min_words_per_line": 3,
    "max_word_length": 1000,
    "filter_lorem_ipsum": True,
    "filter_javascript": True,
    "filter_curly_bracket": True,
    "filter_policy": True,
}


class DropDoc(Exception):
    pass


class C4(Step):
    """`{c4: {filter_no_terminal_punct: false}}` is FineWeb's variant."""

    name = "c4"

    def __init__(
        self,
        min_words_to_judge: int | None = UNSET,
        short: Literal["keep", "reject"] = UNSET,
        remove_citations: bool = UNSET,
        filter_no_terminal_punct: bool = UNSET,
        min_num_sentences: int = UNSET,
        min_words_per_line: int = UNSET,
        max_word_length: int = UNSET,
        filter_lorem_ipsum: bool = UNSET,
        filter_javascript: bool = UNSET,
        filter_curly_bracket: bool = UNSET,
        filter_policy: bool = UNSET,
        languages: dict[str, dict[str, Any]] | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.rules = LanguageRules(DEFAULTS, C4_RULES, dict(locals()), languages)

    def clean(self, text: str, lang: str | None = None) -> tuple[str, int]:
        """Kept prose lines with the code blocks in place, byte for byte, and the prose's sentence count;
        raises DropDoc for page-level rules."""
        pieces, sentences = [], 0
        for seg in code_blocks(text):
            if seg.kind == "code":
                pieces.append(seg.text)
                continue
            kept, n = self.clean_prose(seg.text, lang)
            sentences += n
            if kept:
                pieces.append(kept)
        return "\n\n".join(pieces).strip("\n"), sentences  # a blank line keeps an indented block code

    def clean_prose(self, text: str, lang: str | None) -> tuple[str, int]:
        o, kept, sentences = self.rules.get(lang), [], 0
        for line in text.splitlines():
            line = line.strip()
            ws = plain_words(line, lang)
            if o["max_word_length"] != -1 and any(len(w) > o["max_word_length"] for w in ws):
                continue
            if o["remove_citations"]:
                line = CITATION.sub("", line)
            ends = line.endswith(QUOTES) or ends_sentence(line)
            if o["filter_no_terminal_punct"] and (not ends or line.endswith("...")):
                continue
            if len(ws) < o["min_words_per_line"]:
                continue
            low = line.lower()
            if o["filter_lorem_ipsum"] and "lorem ipsum" in low:
                raise DropDoc("contains 'lorem ipsum'")
            if o["filter_javascript"] and "javascript" in low:
                continue
            if o["filter_curly_bracket"] and "{" in INLINE_CODE.sub("", line):  # `{}` in a sentence is code
                raise DropDoc("contains '{'")
            if o["filter_policy"] and any(p in low for p in POLICY + POLICY_CJK):
                continue
            sentences += max(1, count_sentences(line))
            kept.append(line)
        return "\n".join(kept).strip(), sentences

    def process(self, rec: Record) -> Any:
        keys, text = rec.text_keys(self.on), rec.text(self.on)
        lang = language(text, rec.meta.get("language"))
        parts = prose_and_code(text)
        n_words, o = len(plain_words(parts.prose, lang)), self.rules.get(lang)
        short = hand_off(parts, n_words, o["min_words_to_judge"])
        if short is None:
            short = judge_short(o, n_words)
        if short is not None:
            return short
        try:
            cleaned = [self.clean(rec.get(k), lang) for k in keys]
        except DropDoc as e:
            return False, str(e)
        n, least = sum(s for _, s in cleaned), self.rules.get(lang)["min_num_sentences"]
        if least != -1 and n < least:
            return False, f"too few sentences ({n} < {least})"
        for k, (text, _) in zip(keys, cleaned, strict=True):
            rec.set(k, text)
        return True
