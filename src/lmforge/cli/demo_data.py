"""The demo's example, written from code: raw support-desk chats (seeded, deliberately messy), the public
eval set they must not leak into, and exp.yaml. Shipped inside the package, so `lmforge demo` runs after a
plain `pip install`; examples/support-bot/generate_raw.py calls the same `write_example`, and CI checks that
it reproduces the committed files byte for byte.

What is planted, so that every cleaning step has work to do: exact duplicates, near-duplicates (a word
changed, extra spaces), HTML fragments and entities (in questions, and helpdesk markup in answers), mojibake
(UTF-8 read as Windows-1252), e-mail addresses, phone numbers and IPs, chats in other languages, junk
(keyboard mash, "lorem ipsum", one-word tickets), malformed JSON lines, a record missing its answer, a
Windows-1252 CSV with a byte that is not UTF-8, and copies of the eval set's questions (contamination).
"""

from __future__ import annotations

import csv
import json
import random
import string
from importlib import resources
from pathlib import Path

from lmforge.cli import demo_topics as t

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
OPENERS = ["", "", "", "Hi, ", "Hello, ", "Hey there, ", "Good morning, "]
CLOSERS = ["", "", " Thanks!", " Thank you.", " Please help.", " Thanks in advance."]
LAST_LINES = ["", "Let us know if anything is unclear.", "Just reply to this message if you need more help."]
OFF_LANGUAGE = [  # (ticket, the agent's reply in the same language): each sent four times
    ("Bonjour, je n'arrive pas à me connecter à mon compte depuis hier soir.",
     "Bonjour, réinitialisez votre mot de passe depuis l'écran de connexion. Cordialement, Kim (équipe Support)"),
    ("Hallo, meine Bestellung ist immer noch nicht angekommen, was kann ich tun?",
     "Hallo, die Sendungsverfolgung finden Sie unter Bestellungen. Viele Grüße, Kim (Support-Team)"),
    ("Hola, quiero cancelar mi suscripción lo antes posible, gracias.",
     "Hola, puede cancelar su suscripción en Ajustes > Facturación. Saludos, Kim (equipo de Soporte)"),
    ("Buongiorno, vorrei un rimborso per il mio ultimo ordine, grazie mille.",
     "Buongiorno, il rimborso arriva entro 5 giorni lavorativi dal reso. Cordiali saluti, Kim (team Supporto)"),
    ("Olá, o aplicativo fecha sozinho toda vez que eu abro, podem ajudar?",
     "Olá, atualize o aplicativo e reinicie o aparelho. Atenciosamente, Kim (equipe de Suporte)"),
]  # fmt: skip
JUNK = [
    "asdfghjkl",
    "!!!!!!!!",
    "test",
    "lorem ipsum dolor sit amet consectetur",
    "???",
    "aaaaaaaaaaaa",
    "ok",
]
PII = [
    " You can reach me at {mail}@example.com.",
    " Call me back on +1 415 555 {n4}.",
    " My IP is 192.168.{a}.{b} if that helps.",
    " My email: {mail}.{n4}@mailbox.org",
]
# a public benchmark of support questions; some of them leaked into the chat logs
EVAL_QUESTIONS = [
    "Hello, I ordered a PhotoBox gift card last Tuesday and the confirmation e-mail never arrived in my inbox at all",
    "Good morning, after the update yesterday the TaskPilot widget on my home screen shows yesterday's tasks only",
    "Hi there, my company needs all invoices of the last twelve months in one PDF for the yearly tax audit",
    "Hey, I was charged in euros instead of dollars for my MailDesk plan although I live in the United States",
    "Hello, the FitTrack watch stopped syncing my steps with the phone app since I changed to a new phone",
    "Hi, I would like to transfer my CloudNote subscription to my wife's account because she uses it more",
    "Dear support, the delivery driver left my parcel at the wrong house and the neighbours are on holiday",
    "Hello, is there a student discount for PhotoBox and if so how do I prove that I am enrolled somewhere",
]


def raw_slots(rng: random.Random) -> dict:
    """One ticket's facts, as the customer writes them: {"order": "#48213", "device": "iPhone", ...}."""
    plan, plan2 = rng.sample(t.PLANS, 2)
    return {
        "product": rng.choice(t.PRODUCTS),
        "order": f"#{rng.randint(10000, 99999)}",
        "amount": f"${rng.randint(4, 199)}.{rng.choice(['00', '49', '99'])}",
        "date": f"{rng.choice(MONTHS)} {rng.randint(1, 28)}",
        "device": rng.choice(t.DEVICES),
        "version": f"{rng.randint(3, 7)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}",
        "item": rng.choice(t.ITEMS),
        "plan": plan,
        "plan2": plan2,
        "city": rng.choice(t.CITIES),
        "code": f"{rng.choice(['SPRING', 'WELCOME', 'SUMMER', 'SAVE', 'VIP'])}{rng.randint(10, 40)}",
        "days": rng.randint(3, 60),
        "time": rng.choice(t.TIMES),
    }


def slots_of(template: str) -> set[str]:
    """`slots_of("Where is {order}? ({days} days)")` -> {"order", "days"}."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def answer_slots(topic: t.Topic, raw: dict, given: set[str]) -> dict:
    """The answer's wording of each fact: the question's value where it gave one ("order #48213"), else the
    generic phrase ("your order"). A slot with neither raises KeyError: a template bug, caught by the tests."""
    out = {}
    for name, value in raw.items():
        if name in given:
            out[name] = t.ANSWER_FORM.get(name, "{}").format(value)
        elif name in topic.fallback or name in t.FALLBACK:
            out[name] = topic.fallback.get(name, t.FALLBACK.get(name))
    return out


def ask(opener: str, text: str, closer: str) -> str:
    """`ask("Hi, ", "My order is late", " Thanks!")` -> "Hi, my order is late. Thanks!"."""
    if opener and text[:2].istitle() and text.split()[0] not in ("I", "I'm", *t.PRODUCTS):
        text = text[0].lower() + text[1:]
    if closer and text[-1] not in ".?!":
        text += "."
    return opener + text + closer


def ticket(rng: random.Random, topic: t.Topic) -> dict:
    """One clean chat: a question in the customer's words and the agent's answer that uses its facts."""
    raw = raw_slots(rng)
    template = rng.choice(topic.questions)
    name = rng.choice(t.NAMES) if rng.random() < 0.35 else None
    question = ask(rng.choice(OPENERS), template.format(**raw), rng.choice(CLOSERS))
    if name:
        question += rng.choice([f" - {name}", f" Thanks, {name}", f" Regards, {name}"])
    answers = topic.answers[topic.rule(raw)] if topic.rule else topic.answers
    body = rng.choice(answers).format(**answer_slots(topic, raw, slots_of(template)))
    greeting = f"Hi {name}!" if name else rng.choice(["Hello!", "Hi there!", "Thanks for reaching out!"])
    sign = f"Best regards, {t.TEAMS[topic.team]} ({topic.team} team)"
    answer = " ".join(part for part in (greeting, body, rng.choice(LAST_LINES), sign) if part)
    return {"question": question, "answer": answer, "intent": topic.name}


def unique_tickets(rng: random.Random, n: int) -> list[dict]:
    """n tickets whose answers are all different strings: a test answer can then only match a train answer
    through a planted duplicate, which dedup removes."""
    rows, seen = [], set()
    while len(rows) < n:
        rec = ticket(rng, rng.choice(t.TOPICS))
        if rec["answer"] not in seen:
            seen.add(rec["answer"])
            rows.append(rec)
    return rows


def mess_up(rng: random.Random, rec: dict) -> dict:
    """Add one kind of real-world dirt to a clean ticket (or none)."""
    r, q, a = rng.random(), rec["question"], rec["answer"]
    if r < 0.10:
        q = f"<p>{q.replace(' and ', ' &amp; ')}<br/></p>"
    elif r < 0.16:
        q = (q + " It doesn't work – I’m stuck.").encode("utf-8").decode("cp1252", errors="replace")
    elif r < 0.28:
        q += rng.choice(PII).format(
            mail=rng.choice(t.NAMES).lower(),
            n4=rng.randint(1000, 9999),
            a=rng.randint(0, 255),
            b=rng.randint(1, 254),
        )
    elif r < 0.33:
        q = "  ".join(q.split(" "))
    elif r < 0.41:  # the helpdesk's rich-text editor
        a = (
            "<div><p>"
            + a.replace(". ", ".</p><p>", 1).replace("Best regards,", "<br>Best&nbsp;regards,")
            + "</p></div>"
        )
    return {**rec, "question": q, "answer": a}


def near_duplicate(rng: random.Random, rec: dict) -> dict:
    """The same ticket sent again with one word changed: `"My order is late"` -> `"My ORDER is late"`."""
    words = rec["question"].split()
    i = rng.randrange(len(words))
    words[i] = words[i].upper() if rng.random() < 0.5 else words[i] + "!"
    return {**rec, "question": " ".join(words)}


def support(question: str, body: str) -> dict:
    """A ticket the support team answered outside the topics (junk, other languages, leaked eval questions)."""
    sign = f"Best regards, {t.TEAMS['Support']} (Support team)"
    return {"question": question, "answer": f"Hello, {body} {sign}", "intent": "other"}


def build(seed: int = 42, n: int = 1000) -> tuple[list[dict], list[dict], list[dict]]:
    """(chat-log rows, spreadsheet rows, eval set): n clean tickets plus the planted dirt, shuffled."""
    rng = random.Random(seed)
    rows = [mess_up(rng, r) for r in unique_tickets(rng, n)]
    rows += [dict(rng.choice(rows)) for _ in range(n // 12)]  # exact duplicates
    rows += [near_duplicate(rng, rng.choice(rows)) for _ in range(n // 20)]
    rows += [{"question": q, "answer": a, "intent": "other"} for q, a in OFF_LANGUAGE * 4]
    rows += [
        support(j, f'we received "{j}" and could not tell what it is about. Could you describe the problem?')
        for j in JUNK * 3
    ]
    eval_set = [{"question": q} for q in EVAL_QUESTIONS]
    leak = (
        "thanks for the details! A specialist will look into it and get back to you within one business day."
    )
    rows += [support(q, leak) for q in EVAL_QUESTIONS[:4]]  # eval questions that leaked into the logs
    rng.shuffle(rows)
    split_at = int(len(rows) * 0.85)
    return rows[:split_at], rows[split_at:], eval_set


def write_example(folder: Path, seed: int = 42) -> dict[str, int]:
    """Write folder/raw/tickets.jsonl, raw/export.csv, eval/benchmark.jsonl and exp.yaml; returns counts.

    >>> write_example(Path("runs/demo/example"))  # doctest: +SKIP
    {'jsonl': 1001, 'jsonl_broken': 3, 'csv': 177, 'eval': 8}
    """
    jsonl_rows, csv_rows, eval_set = build(seed)
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    (folder / "eval").mkdir(exist_ok=True)
    with (folder / "raw" / "tickets.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for i, row in enumerate(jsonl_rows):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i in (100, 500):
                f.write('{"question": "My order is late", "answer": "Thanks for\n')  # a truncated line
            if i == 300:
                f.write(json.dumps({"question": "Where is my refund?"}) + "\n")  # no answer
    # an old spreadsheet export: Windows-1252 bytes, one of them not decodable as UTF-8
    with (folder / "raw" / "export.csv").open("w", encoding="cp1252", errors="replace", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["question", "answer", "intent"])
        writer.writeheader()
        for row in csv_rows:
            writer.writerow({k: _spreadsheet(k, row[k]) for k in ("question", "answer", "intent")})
    with (folder / "eval" / "benchmark.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(row) + "\n" for row in eval_set)
    exp = resources.files("lmforge.cli").joinpath("demo_exp.yaml").read_bytes()
    (folder / "exp.yaml").write_bytes(exp)
    return {"jsonl": len(jsonl_rows), "jsonl_broken": 3, "csv": len(csv_rows), "eval": len(eval_set)}


def _spreadsheet(key: str, value: str) -> str:
    """What the old export did to a cell: typographic marks flattened, an accented word in some questions."""
    value = value.replace("’", "'").replace("–", "-")
    return value + (" café" if key == "question" and len(value) % 7 == 0 else "")
