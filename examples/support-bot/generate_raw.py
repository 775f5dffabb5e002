"""Write the demo's raw support-desk chats: deliberately messy, deterministic (seeded).

Run from the repository root: `python examples/support-bot/generate_raw.py`. It writes
`examples/support-bot/raw/tickets.jsonl` (the chat log export) and `raw/export.csv` (an older export from
a spreadsheet, in Windows-1252), and `eval/benchmark.jsonl` (a public eval set the data must not leak into).

What is planted, so that every cleaning step has work to do:
exact duplicates, near-duplicates (a word changed, extra spaces), HTML fragments and entities, mojibake
(UTF-8 read as Windows-1252), e-mail addresses, phone numbers and IPs, lines in other languages, junk
(keyboard mash, "lorem ipsum", one-word tickets), malformed JSON lines, a record missing its answer,
and copies of the eval set's questions (contamination).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
SIGN = "Best regards, Ada from Support"

# intent -> (user questions with {slots}, the support answer with the same slots)
INTENTS = {
    "password": (
        [
            "How do I reset my password?",
            "I forgot my password for {product}, what now?",
            "Can't log in, I think my password is wrong",
            "password reset link is not working for me",
            "How can I change the password on my {product} account?",
        ],
        "Thanks for reaching out! To reset your password, open {product}, go to Settings > Account > "
        "Reset password and follow the link we e-mail you. The link is valid for 30 minutes.",
    ),
    "refund": (
        [
            "I want a refund for order {order}",
            "How do I get my money back for {order}?",
            "Please refund my purchase of {product}",
            "Can I return {product} and get a refund?",
            "refund status for order {order}??",
        ],
        "Thanks for reaching out! Refunds for order {order} are processed within 5 business days after we "
        "receive the item. You can follow the status under Orders > {order} > Refund.",
    ),
    "shipping": (
        [
            "Where is my order {order}?",
            "My package {order} has not arrived yet",
            "When will {product} be delivered?",
            "tracking for {order} shows nothing",
            "Order {order} is late, can you check?",
        ],
        "Thanks for reaching out! Order {order} left our warehouse and usually arrives within 3 to 5 "
        "business days. You can track it under Orders > {order} > Track package.",
    ),
    "cancel": (
        [
            "How do I cancel my {product} subscription?",
            "Please cancel my subscription",
            "I want to stop paying for {product}",
            "cancel plan before renewal",
            "How can I end my {product} membership?",
        ],
        "Thanks for reaching out! You can cancel {product} any time under Settings > Billing > Cancel "
        "subscription. You keep access until the end of the current billing period.",
    ),
    "address": (
        [
            "How do I change my delivery address?",
            "I moved, how can I update my address for {order}?",
            "Wrong shipping address on order {order}",
            "Can I edit the address after ordering {product}?",
        ],
        "Thanks for reaching out! You can change the address of order {order} under Orders > {order} > "
        "Edit address until the order ships. After that, contact the carrier with your tracking number.",
    ),
    "invoice": (
        [
            "Where can I download my invoice?",
            "I need an invoice for order {order}",
            "Can you send me a VAT invoice for {product}?",
            "invoice for {order} please",
        ],
        "Thanks for reaching out! Invoices are under Orders > {order} > Download invoice as a PDF. Add your "
        "VAT number under Settings > Billing before downloading if you need it on the invoice.",
    ),
    "twofactor": (
        [
            "How do I turn on two-factor authentication?",
            "I lost my phone and can't get my 2FA code",
            "Set up 2FA for {product}",
            "two factor codes are not accepted",
        ],
        "Thanks for reaching out! Turn on two-factor authentication under Settings > Security > "
        "Two-factor. If you lost your phone, use one of your backup codes to sign in to {product}.",
    ),
    "crash": (
        [
            "The {product} app crashes when I open it",
            "{product} keeps closing on startup",
            "App freezes after the last update",
            "{product} crashed and I lost my work",
        ],
        "Thanks for reaching out! Please update {product} to the latest version and restart your device. "
        "If it still crashes, send us the crash report from Settings > Help > Send diagnostics.",
    ),
    "payment": (
        [
            "My card was declined for {product}",
            "Payment failed for order {order}",
            "Why was I charged twice for {order}?",
            "Can I pay for {product} with PayPal?",
        ],
        "Thanks for reaching out! Check that your card details are up to date under Settings > Billing > "
        "Payment methods. A double charge for order {order} is a pending hold and disappears within 3 days.",
    ),
    "export": (
        [
            "How do I export my data from {product}?",
            "Can I download all my files?",
            "I need a backup of my {product} account",
            "export to CSV possible?",
        ],
        "Thanks for reaching out! Go to Settings > Privacy > Export data in {product}. We prepare a ZIP "
        "file with everything and e-mail you a download link within 24 hours.",
    ),
}
PRODUCTS = ["CloudNote", "PhotoBox", "TaskPilot", "MailDesk", "FitTrack"]
OFF_LANGUAGE = [
    "Bonjour, je n'arrive pas à me connecter à mon compte depuis hier soir.",
    "Hallo, meine Bestellung ist immer noch nicht angekommen, was kann ich tun?",
    "Hola, quiero cancelar mi suscripción lo antes posible, gracias.",
    "Buongiorno, vorrei un rimborso per il mio ultimo ordine, grazie mille.",
    "Olá, o aplicativo fecha sozinho toda vez que eu abro, podem ajudar?",
]
JUNK = [
    "asdfghjkl",
    "!!!!!!!!",
    "test",
    "lorem ipsum dolor sit amet consectetur",
    "???",
    "aaaaaaaaaaaaaaaa",
    "ok",
    "hello?",
]
PII = [
    " You can reach me at {name}@example.com.",
    " Call me back on +1 415 555 {n4}.",
    " My IP is 192.168.{a}.{b} if that helps.",
    " My email: {name}.{n4}@mailbox.org",
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
NAMES = ["jane.doe", "tom", "priya", "li.wei", "carlos", "anna.k", "omar"]


def ticket(rng: random.Random, intent: str) -> dict:
    questions, answer = INTENTS[intent]
    slots = {"product": rng.choice(PRODUCTS), "order": f"#{rng.randint(10000, 99999)}"}
    question = rng.choice(questions).format(**slots)
    return {"question": question, "answer": f"{answer.format(**slots)} {SIGN}", "intent": intent}


def mess_up(rng: random.Random, rec: dict) -> dict:
    """Add one kind of real-world dirt to a clean ticket (or none)."""
    r = rng.random()
    q = rec["question"]
    if r < 0.10:
        q = f"<p>{q.replace(' and ', ' &amp; ')}<br/></p>"
    elif r < 0.16:
        q = (q + " It doesn't work – I’m stuck.").encode("utf-8").decode("cp1252", errors="replace")
    elif r < 0.28:
        q += rng.choice(PII).format(
            name=rng.choice(NAMES), n4=rng.randint(1000, 9999), a=rng.randint(0, 255), b=rng.randint(1, 254)
        )
    elif r < 0.33:
        q = "  ".join(q.split(" "))
    return {**rec, "question": q}


def near_duplicate(rng: random.Random, rec: dict) -> dict:
    words = rec["question"].split()
    i = rng.randrange(len(words))
    words[i] = words[i].upper() if rng.random() < 0.5 else words[i] + "!"
    return {**rec, "question": " ".join(words)}


def build(seed: int = 42, n: int = 1100) -> tuple[list[dict], list[dict], list[dict]]:
    rng = random.Random(seed)
    clean = [ticket(rng, rng.choice(list(INTENTS))) for _ in range(n)]
    eval_set = [
        {"question": q, "answer": "Thanks for reaching out! We will look into it. " + SIGN, "intent": "other"}
        for q in EVAL_QUESTIONS
    ]
    rows = [mess_up(rng, r) for r in clean]
    rows += [dict(rng.choice(rows)) for _ in range(n // 12)]  # exact duplicates
    rows += [near_duplicate(rng, rng.choice(rows)) for _ in range(n // 20)]  # near-duplicates
    rows += [
        {"question": q, "answer": "Sorry, we answer in English only. " + SIGN, "intent": "other"}
        for q in OFF_LANGUAGE
        for _ in range(4)
    ]
    rows += [
        {"question": j, "answer": "Could you tell us more? " + SIGN, "intent": "other"} for j in JUNK * 3
    ]
    rows += [dict(e) for e in eval_set[:4]]  # eval questions that leaked into the logs
    rng.shuffle(rows)
    split_at = int(len(rows) * 0.85)
    return rows[:split_at], rows[split_at:], eval_set


def main() -> None:
    jsonl_rows, csv_rows, eval_set = build()
    raw = HERE / "raw"
    raw.mkdir(exist_ok=True)
    with (raw / "tickets.jsonl").open("w", encoding="utf-8") as f:
        for i, row in enumerate(jsonl_rows):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i in (100, 500):
                f.write('{"question": "My order is late", "answer": "Thanks for\n')  # a truncated line
            if i == 300:
                f.write(json.dumps({"question": "Where is my refund?"}) + "\n")  # no answer
    # an old spreadsheet export: Windows-1252 bytes, one of them not decodable as UTF-8
    with (raw / "export.csv").open("w", encoding="cp1252", errors="replace", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["question", "answer", "intent"])
        writer.writeheader()
        for row in csv_rows:
            writer.writerow(
                {
                    k: row[k].replace("’", "'").replace("–", "-")
                    + (" café" if k == "question" and len(row[k]) % 7 == 0 else "")
                    for k in ("question", "answer", "intent")
                }
            )
    (HERE / "eval").mkdir(exist_ok=True)
    with (HERE / "eval" / "benchmark.jsonl").open("w", encoding="utf-8") as f:
        for row in eval_set:
            f.write(json.dumps({"question": row["question"]}) + "\n")
    print(
        f"wrote {len(jsonl_rows)} + 3 broken jsonl lines, {len(csv_rows)} csv rows, {len(eval_set)} eval rows"
    )


if __name__ == "__main__":
    main()
