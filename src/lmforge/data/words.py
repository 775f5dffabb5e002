"""Words by language: what a word is, in one place, for every step that counts words or n-grams (length,
gopher_*, c4, fineweb, exact and near dedup, decontaminate, classical, the stats' f(w) and co-occurrence).

Text in scripts written with spaces between words is split exactly as each step always split it (its own
`base` split), so English and every other space-delimited language get the same words as before. Runs of
the scripts written without spaces go to a kept segmenter instead, loaded once per process on first use:

| run of                 | segmenter (package)                                   | without the package      |
|------------------------|-------------------------------------------------------|--------------------------|
| Han (zh, default)      | jieba's dictionary + HMM (`rjieba`, jieba in Rust)    | one word per character   |
| Han with kana (ja)     | MeCab + UniDic-lite (`fugashi`, `unidic-lite`)        | one word per character   |
| Hangul (ko)            | Kiwi morphemes (`kiwipiepy` + `kiwipiepy-model`)      | the space-separated words|
| Thai                   | newmm-safe (`pythainlp`)                              | one word per character   |
| Lao, Khmer, Myanmar, Tibetan | none kept offline                               | one word per character   |

(Kiwi and newmm-safe are datatrove's choices for ko and th; for ja datatrove uses spaCy + SudachiPy.)
Spaces inside a Han/kana run are layout, not word breaks, so `我 喜欢` and `我喜欢` give the same words.

The language is the record's `meta.language` (the language step) when there is one, else the script's
(`script_language`: a few regex counts, no model).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable
from functools import lru_cache

from lmforge.data.code_blocks import prose_and_code

# combining marks of the BMP (Thai vowels, Devanagari matras, ...): part of a word, never punctuation;
# `\w` leaves them out, which cut such words apart (~10 ms to build at import)
_MARK_CHARS = [chr(c) for c in range(0x300, 0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
MARKS = "".join(re.escape(c) for c in _MARK_CHARS)

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = "\u3005\u3006\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL = "\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e"
_THAI = "\u0e01-\u0e4f\u0e5a\u0e5b"  # not Thai digits (U+0E50-59): numbers stay with the step's split
_OTHER = "\u0e80-\u0ecf\u0edc-\u0edf\u1000-\u103f\u1050-\u108f\u1780-\u17d3\u0f00-\u0f1f\u0f40-\u0fbc"
# a run: Han/kana with spaces or tabs inside (not newlines: lines stay lines); Hangul and Thai words with
# the spaces between them (their segmenters want whole phrases); other no-space scripts as they are
RUNS = re.compile(
    rf"(?P<cj>[{_HAN}{_KANA}]+(?:[ \t\u3000]+[{_HAN}{_KANA}]+)*)"
    rf"|(?P<ko>[{_HANGUL}]+(?:[ \t]+[{_HANGUL}]+)*)"
    rf"|(?P<th>[{_THAI}]+(?:[ \t]+[{_THAI}]+)*)"
    rf"|(?P<other>[{_OTHER}]+)"
)
NOSPACE = re.compile(f"[{_HAN}{_KANA}{_HANGUL}{_THAI}{_OTHER}]")
_COUNT = {
    "han": re.compile(f"[{_HAN}]"),
    "kana": re.compile(f"[{_KANA}]"),
    "ko": re.compile(f"[{_HANGUL}]"),
    "th": re.compile(f"[{_THAI}]"),
}
_LETTER = re.compile(r"[^\W\d_]")
_WORD_CHAR = re.compile(rf"[\w{MARKS}]")
_SPACE = re.compile(r"[ \t\u3000]+")
_OTHER_LANG = {(0x0E80, 0x0EFF): "lo", (0x0F00, 0x0FFF): "bo", (0x1000, 0x109F): "my", (0x1780, 0x17FF): "km"}

# words as spaCy's English tokenizer cuts them for the web heuristics (words, punctuation apart), with
# combining marks inside words; on text without marks this is base.WORD_RE (datatrove parity)
WEB_WORD = re.compile(rf"[\w{MARKS}]+(?:['’.-][\w{MARKS}]+)*|\.{{2,}}|[^\w\s{MARKS}]")


def has_segments(text: str) -> bool:
    """Whether any run of a no-space script is in the text: `has_segments("hi 你好")` -> True."""
    return not text.isascii() and NOSPACE.search(text) is not None  # isascii: ~50 ns, most text


def script_language(text: str) -> str | None:
    """The language the script says, from the first 2,000 characters; None for space-delimited text
    (Latin, Cyrillic, ...), also when other letters outnumber the no-space characters more than 4 to 1
    (a Han character carries about a short English word: a Chinese name in English text stays English).

    >>> script_language("我昨天买了一台电脑。"), script_language("昨日は雨でした。"), script_language("Hello")
    ('zh', 'ja', None)
    """
    if not has_segments(text):
        return None
    s = text[:2000]
    han, kana, ko, th = (len(r.findall(s)) for r in _COUNT.values())
    m = NOSPACE.findall(s)
    other = len(m) - han - kana - ko - th
    latin = len(_LETTER.findall(s)) - han - kana - ko - th
    if 4 * len(m) < latin:
        return None
    best = max(("cj", han + kana), ("ko", ko), ("th", th), ("other", other), key=lambda kv: kv[1])[0]
    if best == "cj":
        return "ja" if 10 * kana >= han + kana else "zh"
    if best == "other":
        c = ord(next(c for c in m if not any(r.match(c) for r in _COUNT.values())))
        return next(lang for (lo, hi), lang in _OTHER_LANG.items() if lo <= c <= hi)
    return best


def language(text: str, meta_language: str | None = None) -> str | None:
    """The record's language: `meta.language` when set (the language step), else `script_language` of its
    prose: where a listing outweighs Chinese prose, the script of the prose says, not the code's letters."""
    if meta_language:
        return meta_language
    lang = script_language(text)
    if lang is None and has_segments(text):  # no-space letters outnumbered: by code, or by another language
        lang = script_language(prose_and_code(text[:20_000]).prose)
    return lang


def split(text: str, base: Callable[[str], list[str]] = str.split, lang: str | None = None) -> list[str]:
    """The words of `text`: `base` on the space-delimited parts, the language's segmenter on runs of
    no-space scripts. Text without such a run is `base(text)` itself (one regex search more).

    >>> split("我昨天买了一台电脑, great!", WEB_WORD.findall)
    ['我', '昨天', '买', '了', '一台', '电脑', ',', 'great', '!']
    """
    if not has_segments(text):
        return base(text)
    lang = lang or script_language(text)
    out: list[str] = []
    pos = 0
    for m in RUNS.finditer(text):
        if m.start() > pos:
            out += base(text[pos : m.start()])
        out += cut(m.group(), m.lastgroup or "other", lang)
        pos = m.end()
    if pos < len(text):
        out += base(text[pos:])
    return out


def web_words(text: str, lang: str | None = None) -> list[str]:
    """Words and punctuation apart, as the Gopher/FineWeb rules count them: `"Hi, 你好"` -> ["Hi", ",", "你好"]."""
    return split(text, WEB_WORD.findall, lang)


def plain_words(text: str, lang: str | None = None) -> list[str]:
    """Words as a reader counts them (length, C4's words per line): whitespace-separated, runs of
    no-space scripts segmented; in such text punctuation on its own is not a word.

    >>> plain_words("one two,"), plain_words("我喜欢你。Thanks!")
    (['one', 'two,'], ['我', '喜欢', '你', '。Thanks!'])
    """
    if not has_segments(text):
        return text.split()
    return [w for w in split(text, str.split, lang) if _WORD_CHAR.search(w)]


def is_word(token: str) -> bool:
    """Whether a token is a word in the word-based ratios (letter share, mean length, stop words, n-grams):
    it has a letter, digit or mark. The segmenters and WEB_WORD also give punctuation and symbols
    (`，` `。` `|` `...`) as tokens of their own; those are not words.

    >>> [is_word(t) for t in ("电脑", "1998", "，", "...", "|")]
    [True, True, False, False, False]
    """
    return _WORD_CHAR.search(token) is not None


def counted_words(text: str, lang: str | None = None) -> list[str]:
    """The words of `web_words` without its punctuation and symbol tokens: `"Hi, 你好！"` -> ["Hi", "你好"]."""
    return list(_counted_words(text, lang))


@lru_cache(maxsize=4)  # gopher_repetition, gopher_quality and fineweb count the same prose in turn
def _counted_words(text: str, lang: str | None) -> tuple[str, ...]:
    return tuple(w for w in web_words(text, lang) if _WORD_CHAR.search(w))


# what ends a sentence, per script (c4's sentences and line rule, fineweb's line-end rule): . ! ? and the
# full-width forms; CJK 。！？； and the ellipsis after CJK (……); Devanagari । ॥; Arabic/Urdu ؟ ۔ ؛;
# Armenian ։ ՞ ՜; Ethiopic ። ፧ ፨; Myanmar ။; Khmer ។ ៕; Tibetan ། ༎. Closing quotes and brackets may
# follow the mark (。” .")), never stand for it: "（附图片１张）" is a caption, but "……九点九。（满东燕）" and
# "It ended 2-1. (Reuters)" end a sentence and credit it. Thai has no sentence mark: a space between Thai
# words ends its sentences (thai breaks count as sentences, below).
# these end a sentence before a space or the line end only: not in 3.14 or １９９８．１, nor Armenian ՞
# written over a vowel inside its word
_SPACED = ".!?．՞՜"
_MARKS = "。！？；｡।॥؟۔؛։።፧፨။។៕།༎"
_CLOSE = "\"'”’」』）)\\]》〉】»"
_CJK_ELLIPSIS = rf"(?<=[{_HAN}{_KANA}{_HANGUL}…])…"
SENTENCE_END = re.compile(
    rf"(?:[{re.escape(_SPACED)}]+[{_CLOSE}]*(?=\s|$)|(?:[{_MARKS}]|{_CJK_ELLIPSIS})+[{_CLOSE}]*)"
)
LINE_END = re.compile(
    rf"(?:[{re.escape(_SPACED)}{_MARKS}]|{_CJK_ELLIPSIS})[{_CLOSE}]*(?:\s*[（(][^（）()]*[）)])?$"
)
_THAI_BREAK = re.compile(rf"(?<=[{_THAI}])[ \t]+(?=[{_THAI}])")


def ends_sentence(line: str) -> bool:
    """Whether a line ends with a sentence mark of its script (closing quotes/brackets may follow).

    >>> [ends_sentence(s) for s in ("Done.", "他说：“好。”", "（附图片１张）", "क्या हुआ।", "Wait (see above)")]
    [True, True, False, True, False]
    >>> ends_sentence("成果显著。（满东燕）"), ends_sentence("Ok... (more)"), ends_sentence("ok (see 1)")
    (True, True, False)
    """
    return LINE_END.search(line.rstrip()) is not None


def count_sentences(line: str) -> int:
    """The sentences of a line: its sentence marks of every script and the spaces that end Thai sentences,
    and one more when words follow the last of them (a sentence without its mark).

    >>> count_sentences("他说：“明天见。”你好吗？好的！"), count_sentences("Hi. Pi is 3.14!"), count_sentences("Hi. Bye")
    (3, 2, 2)
    """
    ends = [m.end() for r in (SENTENCE_END, _THAI_BREAK) for m in r.finditer(line)]
    return len(ends) + (_WORD_CHAR.search(line, max(ends, default=0)) is not None)


@lru_cache(maxsize=8192)  # steps run one after another over a batch: the same runs come back
def cut(run: str, kind: str, lang: str | None = None) -> tuple[str, ...]:
    """The words of one run (`kind` is the RUNS group: cj, ko, th, other); `lang` picks ja or zh for Han."""
    if kind == "cj":
        run = _SPACE.sub("", run)
        kind = "ja" if lang == "ja" or _COUNT["kana"].search(run) else "zh"
    seg = segmenter(kind)
    if seg is None:
        return tuple(run.split()) if kind == "ko" else graphemes(run)
    return tuple(w for tok in seg(run) for w in tok.split())


def graphemes(run: str) -> tuple[str, ...]:
    """One word per character, combining marks kept with their base: `"กิน"` -> ("กิ", "น")."""
    out: list[str] = []
    for c in run:
        if out and unicodedata.category(c).startswith("M"):
            out[-1] += c
        elif not c.isspace():
            out.append(c)
    return tuple(out)


_SEGMENTERS: dict[str, Callable[[str], list[str]] | None] = {}


def segmenter(lang: str) -> Callable[[str], list[str]] | None:
    """The kept segmenter for zh, ja, ko or th, loaded once per process; None when not installed."""
    if lang not in _SEGMENTERS:
        try:
            _SEGMENTERS[lang] = _LOADERS[lang]() if lang in _LOADERS else None
        except ImportError as e:
            _SEGMENTERS[lang] = None
            warnings.warn(f"no {lang} word segmenter ({e}): one word per character", stacklevel=2)
    return _SEGMENTERS[lang]


def _zh() -> Callable[[str], list[str]]:
    import rjieba

    return rjieba.cut  # jieba's default mode: dictionary + HMM for unknown words


def _ja() -> Callable[[str], list[str]]:
    import fugashi
    import unidic_lite

    tagger = fugashi.Tagger(f'-d "{unidic_lite.DICDIR}"')  # this dictionary, whatever else is installed
    return lambda s: [w.surface for w in tagger(s)]


def _ko() -> Callable[[str], list[str]]:
    from kiwipiepy import Kiwi

    kiwi = Kiwi()  # ~1 s to load the model that kiwipiepy-model ships

    def surfaces(s: str) -> list[str]:
        # surface forms, as datatrove; a morpheme fused into the previous syllable (갔 = 가 + 았) has an
        # overlapping span and is skipped, where datatrove would count "갔" twice
        out, end = [], 0
        for t in kiwi.tokenize(s):
            if t.start >= end:
                out.append(s[t.start : t.end])
                end = t.end
        return out

    return surfaces


def _th() -> Callable[[str], list[str]]:
    from pythainlp.tokenize import word_tokenize

    return lambda s: word_tokenize(s, engine="newmm-safe", keep_whitespace=False)


_LOADERS: dict[str, Callable[[], Callable[[str], list[str]]]] = {"zh": _zh, "ja": _ja, "ko": _ko, "th": _th}
