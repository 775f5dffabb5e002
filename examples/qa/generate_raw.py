"""Write the QA example's raw data: questions about short company profiles, answers taken from the text.

Run from the repository root: `python examples/qa/generate_raw.py`. It writes
`examples/qa/raw/profiles.json` (a JSON array exported from a wiki: `passage`, `q`, `a`, `source_url`)
and `raw/crowd.jsonl` (answers collected later from annotators, same fields). Seeded.

Planted dirt, so that prepare has work to do: HTML and entities from the wiki, mojibake, contact e-mails
and phone numbers inside passages (redacted by `pii`), the same question asked twice by different
annotators (exact duplicates) or on a later revision of the page (near duplicates), passages in German and Spanish, a row with an empty answer,
one with a numeric answer and a malformed JSON line.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
PREFIX = ["Nor", "Vel", "Kes", "Ard", "Lum", "Tor", "Bri", "Cal", "Sel", "Mav", "Quen", "Ost"]
SUFFIX = ["vale", "ora", "mark", "ix", "stone", "wick", "field", "lyn", "tek", "haven"]
KINDS = [("Robotics", "warehouse robots"), ("Foods", "plant-based snacks"), ("Energy", "home batteries"),
         ("Bikes", "electric cargo bikes"), ("Software", "accounting software for small shops"),
         ("Optics", "lenses for microscopes"), ("Textiles", "recycled outdoor jackets")]
CITIES = ["Tampere", "Porto", "Leeds", "Graz", "Ghent", "Aarhus", "Lyon", "Kraków", "Bilbao", "Malmö",
          "Utrecht", "Brno"]
FIRST = ["Ilse", "Marco", "Priya", "Tomasz", "Aoife", "Jonas", "Leila", "Rui", "Hanna", "Samuel"]
LAST = ["Marten", "Okafor", "Lindqvist", "Ferreira", "Novak", "Byrne", "Haddad", "Keller", "Moreau"]
QUESTIONS = {
    "year": ["When was {name} founded?", "In which year was {name} founded?", "What year did {name} start?"],
    "city": ["Where is {name} based?", "In which city is {name} headquartered?"],
    "founder": ["Who founded {name}?", "Who is the founder of {name}?"],
    "staff": ["How many people does {name} employ?", "How many employees does {name} have?"],
    "product": ["What is the best-known product of {name}?", "Which product is {name} best known for?"],
    "makes": ["What does {name} make?", "What kind of products does {name} build?"],
}
OFF_LANGUAGE = [
    {"passage": "Die Firma Kestwick Energy wurde 2014 in Graz gegründet und baut Batterien für Häuser. "
                "Sie beschäftigt etwa 120 Menschen.", "q": "Wann wurde Kestwick Energy gegründet?", "a": "2014"},
    {"passage": "Calora Foods fue fundada en 2009 en Bilbao y produce aperitivos de origen vegetal. "
                "La empresa emplea a unas 80 personas.", "q": "¿Dónde tiene su sede Calora Foods?", "a": "Bilbao"},
]


def company(rng: random.Random) -> dict:
    kind, makes = rng.choice(KINDS)
    name = f"{rng.choice(PREFIX)}{rng.choice(SUFFIX)} {kind}"
    return {"name": name, "makes": makes, "year": str(rng.randint(1985, 2021)), "city": rng.choice(CITIES),
            "founder": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "staff": str(rng.randint(2, 90) * 10),
            "product": f"the {rng.choice(['Carry', 'Snap', 'Volt', 'Leaf', 'Axis', 'Nova'])}"
                       f"{rng.choice(['mate', 'line', 'pro', 'one', 'go'])} {rng.randint(2, 9)}"}


def passage(rng: random.Random, c: dict) -> str:
    sentences = [
        f"{c['name']} was founded in {c['year']} in {c['city']} by {c['founder']}.",
        f"The company makes {c['makes']} and employs about {c['staff']} people.",
        f"Its best-known product is {c['product']}, which sells mostly in Europe.",
    ]
    if rng.random() < 0.5:
        sentences.insert(2, f"{c['founder'].split()[0]} still leads the company from its office in {c['city']}.")
    return " ".join(sentences)


def mess_up(rng: random.Random, text: str, c: dict) -> str:
    r = rng.random()
    if r < 0.12:
        return "<p>" + text.replace(" and ", " &amp; ") + "</p>\n<p><i>Last edited by WikiBot</i>.</p>"
    if r < 0.18:
        return (text + " It’s a “local favourite”.").encode("utf-8").decode("cp1252", errors="replace")
    if r < 0.30:
        user = c["founder"].split()[0].lower()
        return text + f" Press contact: {user}@{c['name'].split()[0].lower()}.example or +44 113 496 {rng.randint(1000, 9999)}."
    return text


def build(seed: int = 5) -> tuple[list[dict], list[str]]:
    rng = random.Random(seed)
    wiki: list[dict] = []
    crowd: list[dict] = []
    for i in range(120):
        c = company(rng)
        text = mess_up(rng, passage(rng, c), c)
        for slot in rng.sample(list(QUESTIONS), 3):
            q = rng.choice(QUESTIONS[slot]).format(name=c["name"])
            rec = {"passage": text, "q": q, "a": c[slot], "source_url": f"https://wiki.example/company/{i}"}
            (wiki if rng.random() < 0.6 else crowd).append(rec)
    for rec in rng.sample(wiki, 15):  # annotators answered the same question again
        crowd.append({**rec, "a": rec["a"] if rng.random() < 0.5 else rec["a"] + "."})
    for rec in rng.sample(crowd, 8):  # and again on a later revision of the wiki page
        crowd.append({**rec, "passage": rec["passage"].replace(". ", ". [citation needed] ", 1)})
    crowd += [{**r, "source_url": ""} for r in OFF_LANGUAGE]
    wiki.append({"passage": passage(rng, company(rng)), "q": "Who founded it?", "a": "", "source_url": ""})
    wiki.append({"passage": "Ostlyn Bikes employs 40 people.", "q": "How many?", "a": 40, "source_url": ""})
    lines = [json.dumps(r, ensure_ascii=False) for r in crowd]
    lines.insert(33, '{"passage": "Brimark Optics was founded in 1999 in Ghent.", "q": "Where is')
    return wiki, lines


def main() -> None:
    wiki, crowd = build()
    raw = HERE / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "profiles.json").write_text(json.dumps(wiki, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (raw / "crowd.jsonl").write_text("\n".join(crowd) + "\n", encoding="utf-8")
    print(f"wrote {len(wiki)} wiki rows and {len(crowd)} crowd lines to {raw}")


if __name__ == "__main__":
    main()
