"""Write the summarization example's raw data: incident reports and release notes with one-line summaries.

Run from the repository root: `python examples/summarization/generate_raw.py`. It writes
`examples/summarization/raw/reports.jsonl` (`body`, `tldr`, `team`) and `raw/release_notes.csv`
(`notes`, `summary`), seeded.

Planted dirt, so that prepare has work to do: HTML from the ticket tracker, mojibake, on-call e-mail
addresses and phone numbers in the reports, reports filed twice (exact duplicates) or edited after
filing (near duplicates), stub reports ("see Slack"), a report in French, a row without a summary and
a malformed JSON line.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
SERVICES = ["checkout", "search", "login", "payments", "image upload", "notifications", "reporting",
            "the mobile API", "billing", "inventory sync"]
CAUSES = [("an expired TLS certificate", "renewed the certificate and added an expiry alert"),
          ("a full disk on the primary database", "freed space and added a disk usage alert"),
          ("a bad configuration push", "rolled the configuration back and added a review step"),
          ("a memory leak in the new release", "rolled back the release and fixed the leak"),
          ("a slow query after a schema change", "added the missing index"),
          ("rate limiting by a third-party provider", "added caching and asked the provider for a higher limit"),
          ("a DNS change that had not propagated", "restored the old records until propagation finished")]
IMPACTS = ["returned errors for about {pct} percent of requests", "was unavailable for most users",
           "responded slowly, with p99 latency above {sec} seconds", "dropped about {pct} percent of jobs"]
TEAMS = ["platform", "payments", "mobile", "data", "growth"]
ONCALL = ["maria", "dev.ops", "kenji", "amara", "lukas"]
FEATURES = [("dark mode", "the settings page"), ("CSV export", "the reports page"),
            ("two-factor login", "account security"), ("bulk editing", "the product list"),
            ("offline mode", "the mobile app"), ("saved searches", "search"), ("team roles", "admin settings")]
FIXES = ["a crash when opening large files", "slow loading of the dashboard", "wrong totals in invoices",
         "duplicate notifications", "a layout bug on small screens", "timeouts when uploading images"]


def incident(rng: random.Random) -> tuple[str, str]:
    """A report of 5-7 sentences and its one-sentence summary."""
    service = rng.choice(SERVICES)
    cause, fix = rng.choice(CAUSES)
    impact = rng.choice(IMPACTS).format(pct=rng.randint(5, 60), sec=rng.randint(3, 20))
    start, minutes = f"{rng.randint(0, 23):02d}:{rng.choice(['05', '20', '35', '50'])} UTC", rng.randint(12, 180)
    day = rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"])
    doc = [f"On {day} at {start}, {service} {impact}.",
           "The on-call engineer was paged by the error rate alert and started investigating within minutes.",
           f"The root cause was {cause}.",
           f"The team {fix}.",
           f"Service was fully restored after {minutes} minutes."]
    if rng.random() < 0.6:
        doc.insert(2, rng.choice(["Customers reported the problem on social media before the alert fired.",
                                  "A status page update was posted twenty minutes into the incident.",
                                  "Other services were not affected."]))
    summary = f"{service[0].upper() + service[1:]} {impact} for {minutes} minutes on {day} because of {cause}; the team {fix}."
    return " ".join(doc), summary


def release(rng: random.Random) -> tuple[str, str]:
    (feature, where), fixes = rng.choice(FEATURES), rng.sample(FIXES, 2)
    version = f"{rng.randint(2, 5)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}"
    doc = (f"Version {version} is out. The biggest change is {feature}, which you can find in {where}. "
           f"It was the most requested feature in our last survey. We also fixed {fixes[0]} and {fixes[1]}. "
           f"The update is rolling out to all users over the next {rng.randint(2, 7)} days. "
           "As always, let us know what you think.")
    return doc, f"Version {version} adds {feature} in {where} and fixes {fixes[0]} and {fixes[1]}."


def mess_up(rng: random.Random, doc: str) -> str:
    r = rng.random()
    if r < 0.12:
        return "<div class=\"ticket\"><p>" + doc.replace(". ", ".</p><p>", 2) + "</p></div>"
    if r < 0.18:
        return (doc + " Thanks to everyone who helped – great work.").encode("utf-8").decode("cp1252", errors="replace")
    if r < 0.32:
        who = rng.choice(ONCALL)
        return doc + f" Contact: {who}@example.com, +1 (555) 010-{rng.randint(1000, 9999)}."
    return doc


def build(seed: int = 3) -> tuple[list[str], list[dict]]:
    rng = random.Random(seed)
    reports = []
    for _ in range(200):
        doc, summary = incident(rng)
        reports.append({"body": mess_up(rng, doc), "tldr": summary, "team": rng.choice(TEAMS)})
    for rec in rng.sample(reports, 10):  # filed twice
        reports.append(dict(rec))
    for rec in rng.sample(reports, 8):  # edited after filing: one sentence appended
        reports.append({**rec, "body": rec["body"] + " Postmortem to follow."})
    for _ in range(5):
        reports.append({"body": "see Slack", "tldr": "No details.", "team": "growth"})
    reports.append({"body": "Le service de paiement était indisponible pendant quarante minutes mardi à cause "
                            "d'un certificat expiré. L'équipe a renouvelé le certificat et ajouté une alerte.",
                    "tldr": "Paiements indisponibles 40 minutes à cause d'un certificat expiré.", "team": "payments"})
    reports.append({"body": incident(rng)[0], "team": "data"})  # the summary was never written
    rng.shuffle(reports)
    lines = [json.dumps(r, ensure_ascii=False) for r in reports]
    lines.insert(101, '{"body": "On Friday at 10:05 UTC, search was unavailable", "tldr": ')
    notes = [dict(zip(("notes", "summary"), release(rng), strict=True)) for _ in range(90)]
    notes = [{**n, "notes": mess_up(rng, n["notes"])} for n in notes]
    return lines, notes


def main() -> None:
    lines, notes = build()
    raw = HERE / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "reports.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (raw / "release_notes.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["notes", "summary"])
        w.writeheader()
        w.writerows(notes)
    print(f"wrote {len(lines)} report lines and {len(notes)} release notes to {raw}")


if __name__ == "__main__":
    main()
