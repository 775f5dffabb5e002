"""Write src/lmforge/data/steps/fineweb2_rules.json: FineWeb-2's per-language filter values for every
language py3langid names, from a checkout (or bare clone) of huggingface/fineweb-2.

    python scripts/fineweb2_rules.py PATH/TO/fineweb-2

Each language's values come from configs/<iso639-3>_<script>.yml (the thresholds and stop words the
FineWeb-2 pipeline passes to datatrove's Gopher and FineWeb filters). lang_rules.py reads the JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

# py3langid's code -> the FineWeb-2 config of that language in its usual script (macrolanguages: the
# individual language FineWeb-2 holds most of, as its own README maps them: ar -> arb, fa -> pes, ...)
CONFIGS = {
    "af": "afr_Latn",
    "am": "amh_Ethi",
    "an": "arg_Latn",
    "ar": "arb_Arab",
    "ary": "ary_Arab",
    "arz": "arz_Arab",
    "as": "asm_Beng",
    "az": "azj_Latn",
    "ba": "bak_Cyrl",
    "bcl": "bcl_Latn",
    "be": "bel_Cyrl",
    "bg": "bul_Cyrl",
    "bn": "ben_Beng",
    "br": "bre_Latn",
    "bs": "bos_Latn",
    "ca": "cat_Latn",
    "crh": "crh_Latn",
    "cs": "ces_Latn",
    "cy": "cym_Latn",
    "da": "dan_Latn",
    "de": "deu_Latn",
    "dz": "dzo_Tibt",
    "el": "ell_Grek",
    "eo": "epo_Latn",
    "es": "spa_Latn",
    "et": "ekk_Latn",
    "eu": "eus_Latn",
    "ext": "ext_Latn",
    "fa": "fas_Arab",
    "fi": "fin_Latn",
    "fo": "fao_Latn",
    "fr": "fra_Latn",
    "fy": "fry_Latn",
    "ga": "gle_Latn",
    "gd": "gla_Latn",
    "gl": "glg_Latn",
    "gom": "gom_Deva",
    "gu": "guj_Gujr",
    "ha": "hau_Latn",
    "he": "heb_Hebr",
    "hi": "hin_Deva",
    "hr": "hrv_Latn",
    "ht": "hat_Latn",
    "hu": "hun_Latn",
    "hy": "hye_Armn",
    "id": "ind_Latn",
    "ig": "ibo_Latn",
    "is": "isl_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "jv": "jav_Latn",
    "ka": "kat_Geor",
    "kab": "kab_Latn",
    "kk": "kaz_Cyrl",
    "km": "khm_Khmr",
    "kn": "kan_Knda",
    "ko": "kor_Hang",
    "ku": "kmr_Latn",
    "ky": "kir_Cyrl",
    "la": "lat_Latn",
    "lb": "ltz_Latn",
    "lg": "lug_Latn",
    "lij": "lij_Latn",
    "ln": "lin_Latn",
    "lo": "lao_Laoo",
    "lt": "lit_Latn",
    "ltg": "ltg_Latn",
    "lv": "lvs_Latn",
    "mg": "plt_Latn",
    "mk": "mkd_Cyrl",
    "ml": "mal_Mlym",
    "mn": "khk_Cyrl",
    "mr": "mar_Deva",
    "ms": "zsm_Latn",
    "mt": "mlt_Latn",
    "my": "mya_Mymr",
    "ne": "npi_Deva",
    "nl": "nld_Latn",
    "nn": "nno_Latn",
    "no": "nob_Latn",
    "nso": "nso_Latn",
    "oc": "oci_Latn",
    "om": "gaz_Latn",
    "or": "ory_Orya",
    "pa": "pan_Guru",
    "pcm": "pcm_Latn",
    "pl": "pol_Latn",
    "ps": "pbt_Arab",
    "pt": "por_Latn",
    "qu": "quy_Latn",
    "ro": "ron_Latn",
    "ru": "rus_Cyrl",
    "rw": "kin_Latn",
    "sa": "san_Deva",
    "sdh": "sdh_Arab",
    "se": "sme_Latn",
    "si": "sin_Sinh",
    "sk": "slk_Latn",
    "sl": "slv_Latn",
    "sn": "sna_Latn",
    "so": "som_Latn",
    "sq": "als_Latn",
    "sr": "srp_Cyrl",
    "st": "sot_Latn",
    "sv": "swe_Latn",
    "sw": "swh_Latn",
    "ta": "tam_Taml",
    "te": "tel_Telu",
    "tg": "tgk_Cyrl",
    "th": "tha_Thai",
    "tk": "tuk_Latn",
    "tl": "fil_Latn",
    "tr": "tur_Latn",
    "tt": "tat_Cyrl",
    "ug": "uig_Arab",
    "uk": "ukr_Cyrl",
    "ur": "urd_Arab",
    "uz": "uzn_Latn",
    "vec": "vec_Latn",
    "vi": "vie_Latn",
    "vo": "vol_Latn",
    "wa": "wln_Latn",
    "wuu": "wuu_Hani",
    "xh": "xho_Latn",
    "yo": "yor_Latn",
    "yue": "yue_Hani",
    "zh": "cmn_Hani",
    "zu": "zul_Latn",
}
KEYS = (
    "stopwords",
    "min_avg_word_length",
    "max_avg_word_length",
    "max_non_alpha_words_ratio",
    "dup_line_frac",
    "top_n_grams",
    "dup_n_grams",
    "line_punct_thr",
    "new_line_ratio",
)


def read_config(repo: Path, name: str) -> dict | None:
    path = f"configs/{name}.yml"
    if (repo / path).is_file():
        return yaml.safe_load((repo / path).read_text(encoding="utf-8"))
    got = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, text=True)
    return yaml.safe_load(got.stdout) if got.returncode == 0 else None


def configs(repo: Path) -> list[str]:
    got = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "--name-only", "HEAD", "configs/"], capture_output=True, text=True
    )
    names = (
        got.stdout.split()
        if got.returncode == 0
        else [f"configs/{p.name}" for p in (repo / "configs").glob("*.yml")]
    )
    return [Path(n).stem for n in names]


def main(repo: Path) -> None:
    rules, missing, have = {}, [], configs(repo)
    for code, name in sorted(CONFIGS.items()):
        cfg = read_config(repo, name)
        if cfg is None:
            missing.append(f"{code} ({name})")
            continue
        rules[code] = {"config": name, **{k: cfg[k] for k in KEYS if k in cfg}}
        # the same language in another script (Serbian in Latin, Uzbek in Cyrillic, romanised Hindi):
        # `sr_Latn`, picked when the record is written in that script (lang_rules.py)
        lang, script = name.split("_")
        for other in sorted(n for n in have if n.startswith(lang + "_") and n != name):
            alt = read_config(repo, other)
            rules[f"{code}_{other.split('_')[1]}"] = {
                "config": other,
                **{k: alt[k] for k in KEYS if k in alt},
            }
    out = Path(__file__).resolve().parents[1] / "src/lmforge/data/steps/fineweb2_rules.json"
    out.write_text(json.dumps(rules, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{out}: {len(rules)} languages; no FineWeb-2 config for: {', '.join(missing) or 'none'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
