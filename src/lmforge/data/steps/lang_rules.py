"""Per-language thresholds of the Gopher, C4 and FineWeb rules, and how a step picks them for a record.

A rule's value for a record comes from, last one winning: the published English default; this table
for the record's language; the option as written in the YAML; `languages: {zh: {...}}` in the YAML.
The language is `meta.language` when the language step ran, else the script's (words.script_language).

Sources (docs/prepare.md, "Words by language", has the table with every value):
- FineWeb-2 (huggingface/fineweb-2, configs/{cmn_Hani,jpn_Jpan,kor_Hang,tha_Thai}.yml and
  fineweb-2-pipeline.py): stop words, mean word length bounds, alpha-word ratio, duplicate-line
  fraction, n-gram fractions, line punctuation and newline ratios; its pipeline sets FineWeb's
  char_duplicates_ratio to 0.1 and turns the short-line rule off for every language.
- The other 124 languages py3langid names: the same values of FineWeb-2's configs, in
  fineweb2_rules.json (written by scripts/fineweb2_rules.py from a fineweb-2 checkout). A language with
  neither gets the English rules without English's stop-word rule.
- C4 was not run by FineWeb-2; its CJK terminal marks are in c4.py for every language (no English line
  ends in "。"), and Thai, written without sentence marks, turns the terminal-punctuation rule off here.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

from lmforge.data.record import Record
from lmforge.data.steps.base import Filter
from lmforge.data.words import language

# FineWeb-2's stop words (frequent function words of each language, as its word tokenizer cuts them)
STOP_WORDS = {
    "zh": "的 年 在 月 是 和 日 了 於 · 為 有 被 人 中 为 他 與 後 也 而 由".split(),
    "ja": "の に を は た て が と で 年 し ・ 月 れ さ".split(),
    "ko": "의 다 이 는 에 을 한 년 하 은 를 했 고 에서 가 있 으로 인 월 로 되".split(),
    "th": "ใน ที่ และ ของ เป็น มี การ ได้".split(),
}

GOPHER_QUALITY: dict[str, dict[str, Any]] = {
    "zh": {"min_avg_word_length": 1, "max_avg_word_length": 5, "min_alpha_words_ratio": 0.735},
    "ja": {"min_avg_word_length": 1, "max_avg_word_length": 5, "min_alpha_words_ratio": 0.759},
    "ko": {"min_avg_word_length": 1, "max_avg_word_length": 6, "min_alpha_words_ratio": 0.791},
    "th": {"min_avg_word_length": 2, "max_avg_word_length": 10, "min_alpha_words_ratio": 0.9},
}
for _lang, _words in STOP_WORDS.items():
    GOPHER_QUALITY[_lang]["stop_words"] = _words


def _ngrams(top: tuple[float, ...], dup: tuple[float, ...]) -> dict[str, Any]:
    return {
        "top_n_grams": dict(zip((2, 3, 4), top, strict=True)),
        "dup_n_grams": dict(zip(range(5, 11), dup, strict=True)),
    }


GOPHER_REPETITION: dict[str, dict[str, Any]] = {
    "zh": {
        "dup_line_frac": 0.287,
        **_ngrams((0.256, 0.201, 0.171), (0.198, 0.182, 0.167, 0.154, 0.14, 0.127)),
    },
    # ja: FineWeb-2's top n-gram fractions (0.121, 0.129, 0.145) drop short polite-form prose, where
    # "まし た 。" ends every sentence (2 of 3 such paragraphs in tests/data/cjk_corpus.py): Gopher's here
    "ja": {"dup_line_frac": 0.375, **_ngrams((0.20, 0.18, 0.16), (0.307, 0.283, 0.264, 0.248, 0.234, 0.223))},
    "ko": {
        "dup_line_frac": 0.374,
        **_ngrams((0.282, 0.228, 0.185), (0.201, 0.184, 0.168, 0.154, 0.14, 0.127)),
    },
    "th": {
        "dup_line_frac": 0.349,
        **_ngrams((0.221, 0.197, 0.162), (0.185, 0.168, 0.152, 0.137, 0.124, 0.111)),
    },
}

_FW2 = {"char_duplicates_ratio": 0.1, "short_line_thr": None}  # FineWeb-2's pipeline, every language
FINEWEB: dict[str, dict[str, Any]] = {
    "zh": {"line_punct_thr": 0.106, "new_line_ratio": 0.178, **_FW2},
    "ja": {"line_punct_thr": 0.167, "new_line_ratio": 0.162, **_FW2},
    "ko": {"line_punct_thr": 0.062, "new_line_ratio": 0.196, **_FW2},
    "th": {"line_punct_thr": 0.0, "new_line_ratio": 0.153, **_FW2},
}

C4: dict[str, dict[str, Any]] = {"th": {"filter_no_terminal_punct": False}}

# FineWeb-2's values for the languages above come from the tables above (checked against our CJK and
# Thai corpus); every other language's from its config, as the FineWeb-2 pipeline passes them on
FINEWEB2: dict[str, dict[str, Any]] = json.loads(
    Path(__file__).with_name("fineweb2_rules.json").read_text(encoding="utf-8")
)
for _lang, _c in FINEWEB2.items():
    if _lang in GOPHER_QUALITY:
        continue
    GOPHER_QUALITY[_lang] = {
        "stop_words": _c["stopwords"],
        "min_avg_word_length": _c["min_avg_word_length"],
        "max_avg_word_length": _c["max_avg_word_length"],
        "min_alpha_words_ratio": _c["max_non_alpha_words_ratio"],  # datatrove's name: the min share
    }
    GOPHER_REPETITION[_lang] = {
        "dup_line_frac": _c["dup_line_frac"],
        "top_n_grams": dict(map(tuple, _c["top_n_grams"])),
        "dup_n_grams": dict(map(tuple, _c["dup_n_grams"])),
    }
    FINEWEB[_lang] = {"line_punct_thr": _c["line_punct_thr"], "new_line_ratio": _c["new_line_ratio"], **_FW2}
# a language without its own stop words: English's would drop all of its prose
GOPHER_QUALITY["*"] = {"min_stop_words": None}


def stop_words(lang: str | None) -> list[str]:
    """The stop words of a language: `stop_words("de")[:3]` -> ['der', 'und', 'die']; [] when unknown."""
    return entry(GOPHER_QUALITY, lang, {}).get("stop_words", [])


def entry(table: dict[str, Any], lang: str | None, missing: Any) -> Any:
    """A per-language table's entry for `lang`: its script's (sr_Latn) if the table has one, else its base
    language's (zh-TW, zh_Hant -> zh), else `missing`.

    >>> entry({"sr": 1, "sr_Latn": 2}, "sr-latn", 0), entry({"sr": 1}, "sr_Latn", 0), entry({}, None, 0)
    (2, 1, 0)
    """
    parts = lang.replace("-", "_").split("_") if lang else [""]
    base = parts[0].lower()
    if len(parts) > 1 and f"{base}_{parts[1].title()}" in table:
        return table[f"{base}_{parts[1].title()}"]
    return table.get(base, missing)


class Unset:
    """The default of a per-language option: "not written in the YAML" (None already means "off")."""

    def __repr__(self) -> str:
        return "default"


UNSET: Any = Unset()


class LanguageRules:
    """The options of one step for each language.

    >>> r = LanguageRules({"a": 1, "b": 2}, {"zh": {"a": 5}}, {"b": 3}, {"ja": {"a": 7}})
    >>> r.get(None), r.get("zh"), r.get("ja")
    ({'a': 1, 'b': 3}, {'a': 5, 'b': 3}, {'a': 7, 'b': 3})
    """

    def __init__(
        self,
        defaults: dict[str, Any],
        table: dict[str, dict[str, Any]],
        given: dict[str, Any],
        languages: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        for lang, opts in (languages or {}).items():
            if not isinstance(opts, dict):
                raise ValueError(f"languages.{lang} must be a mapping of options, got {opts!r}")
            unknown = sorted(set(opts) - set(defaults))
            if unknown:
                raise ValueError(
                    f"languages.{lang}: unknown option '{unknown[0]}'; options: {', '.join(defaults)}"
                )
        self.defaults, self.table, self.languages = defaults, table, languages or {}
        self.given = {k: v for k, v in given.items() if k in defaults and v is not UNSET}
        self._cache: dict[str | None, dict[str, Any]] = {}

    def get(self, lang: str | None) -> dict[str, Any]:
        if lang not in self._cache:
            base = lang.replace("-", "_").split("_")[0].lower() if lang else None
            other = {} if base in (None, "en") else self.table.get("*", {})  # a language not in the table
            self._cache[lang] = {
                **self.defaults,
                **entry(self.table, lang, other),
                **self.given,
                **self.languages.get(lang or "", self.languages.get(base or "", {})),
            }
        return self._cache[lang]


# The Gopher, C4 and FineWeb thresholds were set on web documents that had passed Gopher's 50-word
# minimum (FineWeb and FineWeb-2 run C4's and FineWeb's rules after it). On a review, a tweet or a chat
# turn a fraction measures the length, not the quality (one 4-gram said twice is 16% of a 50-word text):
# below `min_words_to_judge` the record is kept unjudged and counted in the funnel's notes, or rejected
# with `short: reject`. Words are counted as the rule counts them (words.counted_words).
SHORT: dict[str, Any] = {"min_words_to_judge": 50, "short": "keep"}
# Rules over lines (bullets, ellipses, line ends, short lines) need lines, not words: a short record of 5 or
# more lines is judged by them (a 10-item menu, a product list), and a short paragraph is not.
LINES: dict[str, Any] = {"min_lines_to_judge": 5}


def judges_lines(o: dict[str, Any], short: Any, lines: list[str]) -> bool:
    """Whether a record left unjudged for its words (`short`, judge_short's verdict) has lines enough."""
    least = o["min_lines_to_judge"]
    return bool(short and short[0] and least and sum(bool(x.strip()) for x in lines) >= least)


def judge_short(o: dict[str, Any], n_words: int, rules: str = "") -> Any:
    """None when a record of `n_words` words is long enough to judge; else the verdict the options give it
    (`rules` names the rules left unjudged when others ran). The note is a fixed phrase: the funnel counts
    notes verbatim.

    >>> judge_short(SHORT, 12), judge_short({**SHORT, "short": "reject"}, 12), judge_short(SHORT, 50)
    ((True, 'not judged: shorter than 50 words'), (False, 'too short to judge (12 < 50 words)'), None)
    """
    least = o["min_words_to_judge"]
    if not least or n_words >= least:
        return None
    if o["short"] == "reject":
        return False, f"too short to judge{' ' if rules else ''}{rules} ({n_words} < {least} words)"
    return True, f"{rules}{' ' if rules else ''}not judged: shorter than {least} words"


class LanguageFilter(Filter):
    """A filter whose rules depend on the record's language: `keep(text, lang)`; lang None = English."""

    rules: LanguageRules

    def process(self, rec: Record) -> Any:
        text = rec.text(self.on)
        return self.keep(text, in_script(language(text, rec.meta.get("language")), text))


# languages whose FineWeb-2 rules differ by script (sr: Cyrillic, sr_Latn: Latin), and the ISO 15924
# code of each Unicode script name that tells them apart
SCRIPTED = {k.split("_")[0] for k in FINEWEB2 if "_" in k}
SCRIPT_CODES = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "ARABIC": "Arab", "DEVANAGARI": "Deva", "BENGALI": "Beng",
    "GUJARATI": "Gujr", "KANNADA": "Knda", "MALAYALAM": "Mlym", "ORIYA": "Orya", "GURMUKHI": "Guru",
    "TAMIL": "Taml", "TELUGU": "Telu",
}  # fmt: skip


def in_script(lang: str | None, text: str) -> str | None:
    """`lang_<Script>` when the language has rules for the script the text is written in, else lang:
    `in_script("sr", "Ovo je grad.")` -> 'sr_Latn', `in_script("sr", "Ово је град.")` -> 'sr_Cyrl'."""
    if not lang or lang.lower() not in SCRIPTED:
        return lang
    counts: dict[str, int] = {}
    for c in text[:2000]:
        if c.isalpha():
            name = unicodedata.name(c, "").split(" ")[0]
            counts[name] = counts.get(name, 0) + 1
    script = SCRIPT_CODES.get(max(counts, key=counts.__getitem__)) if counts else None
    return f"{lang.lower()}_{script}" if script else lang
