"""Which labels count as one language for the `language` step: macrolanguages and their members (ISO
639-3), and the language a short text's script alone names.

py3langid names some members apart from their macrolanguage (wuu and yue beside zh, ary and arz beside
ar, ...), and on Mandarin text it often spreads its probability over zh, wuu and yue: `keep: [zh]` sums
the members' probabilities. Indonesian (`id`) is a member of the Malay macrolanguage in ISO 639-3, but it
is a national standard with its own ISO 639-1 code, which py3langid names apart, and FineWeb-2 keeps
ind_Latn and zsm_Latn apart too: `keep: [ms]` does not keep it (write `keep: [ms, id]`).
"""

from __future__ import annotations

import re

from lmforge.data.words import script_language

# macrolanguage -> members: ISO 639-3 codes (SIL's macrolanguage mappings) plus the labels py3langid
# gives members (wuu, yue, ary, arz, uzs, sdh, ltg, nn, gom, gug, fuv, sr/hr/bs)
MACRO: dict[str, str] = {
    "zh": "cmn wuu yue hak nan gan hsn cjy cdo cpx czh czo mnp lzh cnp csp",
    "ar": "arb ary arz apc acm aeb afb ajp apd arq ars acq acw acx acy adf aec auz avl ayh ayl ayn ayp "
    "abh abv shu ssh pga aao",
    "ms": "zsm min bjn jax meo mfa kxd zlm btj bve bvu coa dup hji jak kvb kvr lce lcf liw max mfb mqg "
    "msi mui orn ors pel pse tmw urk vkk vkt xmm zmi",
    "fa": "pes prs",
    "uz": "uzn uzs",
    "ku": "ckb kmr sdh",
    "lv": "lvs ltg",
    "et": "ekk vro",
    "sq": "als aln aae aat",
    "no": "nb nn nob nno",
    "ne": "npi dty",
    "sw": "swh swc",
    "mn": "khk mvf",
    "ps": "pbt pbu pst",
    "om": "gax gaz hae orc",
    "or": "ory spv",
    "kok": "gom knn",
    "gn": "gug gui gun nhd",
    "ff": "fuv fuc ffm fue fuf fuh fui fuq fub",
    "sh": "sr hr bs cnr",  # Serbo-Croatian (hbs): py3langid tells its standards apart poorly
}
MEMBERS: dict[str, frozenset[str]] = {m: frozenset(v.split()) for m, v in MACRO.items()}
MACRO_OF: dict[str, str] = {c: m for m, cs in MEMBERS.items() for c in cs if m != "sh"}


def expand(code: str) -> frozenset[str]:
    """The labels a kept code stands for: `expand("zh")` -> {'zh', 'cmn', 'wuu', 'yue', ...}; `expand("yue")`
    -> {'yue'} (a member asked for by name is kept alone)."""
    return MEMBERS.get(code, frozenset()) | {code}


def macro(label: str) -> str:
    """The macrolanguage of a model's label: `macro("wuu")` -> 'zh', `macro("en")` -> 'en'."""
    return MACRO_OF.get(label, label)


# scripts that (nearly) one language writes; Han, kana, Hangul, Thai, Lao, Khmer, Myanmar and Tibetan are
# words.script_language's. Devanagari, Bengali, Arabic, Cyrillic and Latin serve many languages: no guess.
_SCRIPTS = {
    "el": "\u0370-\u03ff\u1f00-\u1fff",
    "hy": "\u0530-\u058f",
    "he": "\u0590-\u05ff",
    "ka": "\u10a0-\u10ff",
    "am": "\u1200-\u137f",
    "gu": "\u0a80-\u0aff",
    "pa": "\u0a00-\u0a7f",
    "or": "\u0b00-\u0b7f",
    "ta": "\u0b80-\u0bff",
    "te": "\u0c00-\u0c7f",
    "kn": "\u0c80-\u0cff",
    "ml": "\u0d00-\u0d7f",
    "si": "\u0d80-\u0dff",
    "dv": "\u0780-\u07bf",
}
_SCRIPT_RE = {lang: re.compile(f"[{r}]") for lang, r in _SCRIPTS.items()}
_LETTER = re.compile(r"[^\W\d_]")
_NOT_LATIN_CYRILLIC = re.compile(r"[^\W\d_\x00-\u024f\u0400-\u04ff]")


def script_guess(text: str, share: float = 0.9) -> str | None:
    """The language a text's letters name by their script alone, when one script writes `share` of them.

    >>> script_guess("谢谢!"), script_guess("ありがとう"), script_guess("Γειά σου"), script_guess("Привет")
    ('zh', 'ja', 'el', None)
    """
    letters = len(_LETTER.findall(text))
    if not letters:
        return None
    cjk = script_language(text)
    if cjk is not None:
        own = len(_NOT_LATIN_CYRILLIC.findall(text))
        return cjk if own >= share * letters else None
    for lang, rx in _SCRIPT_RE.items():
        if len(rx.findall(text)) >= share * letters:
            return lang
    return None


# the labels of py3langid 0.4's model (`identifier().labels`; a test checks they still agree): known here
# without loading the model, so a misspelt `keep` fails when the config loads
LABELS = frozenset(
    "ace af am an ar ary arz as az ba bcl be bg bn br bs ca crh cs cy da de dz el en eo es et eu ext fa "
    "fi fo fr fuv fy ga gcf gcr gd gl gom grc gu gug guw ha hbo he hi hr ht hu hy id ig is it ja jv ka "
    "kab kik kk km kn ko ku ky la lb lg lij ln lo lt ltg lv mg mk ml mn mr ms mt my ne nl nn no nso oc "
    "om or pa pcm pl ps pt qu ro ru rw sa sdh se si sk sl sn so sq sr st sv sw ta te tg th tk tl tr tt "
    "ug uk ur uz uzs vec vi vo wa wuu xh yo yue zh zu zxx".split()
)


def check_code(code: str, option: str = "keep") -> None:
    """A ValueError naming the option unless the model (or a macrolanguage of its labels) can name `code`:
    `check_code("cmn")` -> ValueError: keep: 'cmn' is not a label of the model; it is a member of 'zh' ..."""
    if code in LABELS or code in MEMBERS:
        return
    if code in MACRO_OF:
        hint = f"it is a member of '{MACRO_OF[code]}': write '{MACRO_OF[code]}'"
    elif re.split(r"[-_]", code)[0].lower() in LABELS | MEMBERS.keys():
        hint = f"write the bare code '{re.split(r'[-_]', code)[0].lower()}'"
    else:
        hint = "codes are ISO 639-1 where there is one (en, zh, ar), see docs/prepare.md"
    raise ValueError(f"{option}: '{code}' is not a language the model names; {hint}")
