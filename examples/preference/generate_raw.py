"""Write the preference example's raw data: how-to questions, each with a good and a bad answer. Seeded.

Run from the repository root: `python examples/preference/generate_raw.py`. It writes
`examples/preference/raw/annotations.jsonl` (the annotation tool's export: `question`, `good`, `bad`,
`annotator`) and `raw/legacy_export.csv` (an older tool's export: `prompt`, `chosen`, `rejected`, answers
stored as HTML), about 440 pairs on 34 topics.

Good answers give three or four concrete steps. Bad answers come in three consistent styles: a polite
refusal ("I'm afraid that is outside what I can help with"), a rude brush-off ("Just figure it out
yourself"), or good steps for another topic ("Here is how to sharpen a kitchen knife: ..."). Planted dirt:
duplicates (exported twice, re-typed in capitals or with trailing spaces), an empty answer on either side,
the same answer on both sides, pairs in French, German and Spanish, HTML and entities in the legacy export,
a truncated JSON line and a record without its bad answer. Code topics have fenced code in the good answer.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
TOPICS: list[tuple[str, list[str]]] = [
    (
        "boil an egg",
        [
            "Put the egg in a small pot and cover it with cold water.",
            "Bring the water to a boil, then lower the heat to a simmer.",
            "Cook it for 7 minutes for a firm yolk, 5 for a soft one.",
            "Move it to a bowl of ice water for a minute so it peels easily.",
            "Tap the shell all around on the counter before you peel it.",
        ],
    ),
    (
        "cook rice on the stove",
        [
            "Rinse one cup of rice until the water runs clear.",
            "Use about one and a half cups of water per cup of rice.",
            "Bring it to a boil, cover, and turn the heat to low for 15 minutes.",
            "Let it rest off the heat for 5 minutes with the lid on.",
            "Fluff it with a fork before serving.",
        ],
    ),
    (
        "make cold brew coffee",
        [
            "Use coarsely ground coffee, about one part coffee to eight parts water.",
            "Stir the grounds into cold water in a jar.",
            "Leave it in the fridge for 12 to 18 hours.",
            "Strain it through a paper filter or a fine cloth.",
            "Dilute the concentrate with water or milk to taste.",
        ],
    ),
    (
        "keep bread fresh longer",
        [
            "Store it in a paper bag or a bread box, not in the fridge.",
            "Keep the cut side face down on the board.",
            "Slice and freeze what you will not eat within two days.",
            "Toast frozen slices straight from the freezer.",
            "Keep it away from the stove and direct sun.",
        ],
    ),
    (
        "sharpen a kitchen knife",
        [
            "Soak a whetstone for ten minutes if it is a water stone.",
            "Hold the blade at about 15 to 20 degrees to the stone.",
            "Draw the edge across the coarse side, then the fine side.",
            "Do the same number of strokes on each side of the blade.",
            "Finish with a few light strokes on a honing rod.",
        ],
    ),
    (
        "remove a coffee stain from a shirt",
        [
            "Blot the stain with a paper towel; do not rub it.",
            "Rinse the back of the fabric with cold water.",
            "Work a drop of dish soap into the stain with your fingers.",
            "Let it sit for five minutes, then rinse again.",
            "Wash it as usual and check the stain before drying it.",
        ],
    ),
    (
        "unclog a bathroom sink",
        [
            "Pull out the stopper and clean off the hair around it.",
            "Pour a kettle of hot, not boiling, water down the drain.",
            "Use a plunger with the overflow hole covered by a wet cloth.",
            "Try half a cup of baking soda followed by a cup of vinegar.",
            "Open the trap under the sink over a bucket if nothing else works.",
        ],
    ),
    (
        "hang a picture frame straight",
        [
            "Mark the height you want with a pencil, about eye level.",
            "Measure the distance from the top of the frame to the wire.",
            "Use a level to draw a faint line where the nail goes.",
            "Use a picture hook rated for the frame's weight.",
            "Put two hooks a hand apart for a wide frame so it stays level.",
        ],
    ),
    (
        "stop a door from squeaking",
        [
            "Find the hinge that squeaks by moving the door slowly.",
            "Tap the hinge pin up with a screwdriver and a hammer.",
            "Wipe the pin and coat it with a little petroleum jelly.",
            "Push the pin back and swing the door a few times.",
            "Wipe off any extra grease so it does not collect dust.",
        ],
    ),
    (
        "water houseplants properly",
        [
            "Check the soil with a finger; water when the top inch is dry.",
            "Water slowly until it runs out of the drainage holes.",
            "Empty the saucer after half an hour so the roots do not rot.",
            "Water less in winter, when the plant grows slowly.",
            "Use water at room temperature.",
        ],
    ),
    (
        "get rid of fruit flies",
        [
            "Throw away overripe fruit and take out the trash.",
            "Fill a small bowl with cider vinegar and a drop of dish soap.",
            "Cover it with plastic wrap and poke a few small holes in it.",
            "Rinse bottles and cans before putting them in the recycling.",
            "Clean the sink drain, where they often breed.",
        ],
    ),
    (
        "change a flat bike tyre",
        [
            "Open the brake and take the wheel off the bike.",
            "Use tyre levers to lift one side of the tyre off the rim.",
            "Pull out the tube and run your fingers inside the tyre to find the thorn.",
            "Put in a new tube with a little air so it does not twist.",
            "Seat the tyre, pump it to the pressure printed on its side.",
        ],
    ),
    (
        "jump-start a car",
        [
            "Park the working car close, with both engines off.",
            "Clamp red to the dead battery's plus, then to the good battery's plus.",
            "Clamp black to the good battery's minus, then to bare metal on the dead car.",
            "Start the working car and let it run for a few minutes.",
            "Start the dead car, then remove the cables in reverse order.",
        ],
    ),
    (
        "pack a suitcase efficiently",
        [
            "Roll soft clothes instead of folding them.",
            "Put shoes at the bottom, near the wheels.",
            "Fill the shoes with socks and chargers.",
            "Use packing cubes to keep outfits together.",
            "Keep liquids in one clear bag on top for the security check.",
        ],
    ),
    (
        "beat jet lag",
        [
            "Shift your bedtime by an hour a day for a few days before the trip.",
            "Drink water on the flight and go easy on alcohol.",
            "Get outside in daylight on the morning after you land.",
            "Take a short nap of at most 20 minutes if you must.",
            "Eat meals at local times from the first day.",
        ],
    ),
    (
        "speed up a slow laptop",
        [
            "Restart it; a machine that ran for weeks often slows down.",
            "Close programs that start with the computer in the startup settings.",
            "Check that the disk has at least 15 percent free space.",
            "Install the pending system updates.",
            "Scan for malware with the built-in security tool.",
        ],
    ),
    (
        "take a screenshot on Windows",
        [
            "Press Windows + Shift + S to select an area.",
            "The picture goes to the clipboard; paste it with Ctrl + V.",
            "Press the Print Screen key to capture the whole screen.",
            "Press Windows + Print Screen to save it in Pictures > Screenshots.",
            "Use the Snipping Tool to add a delay or draw on it.",
        ],
    ),
    (
        "back up photos from a phone",
        [
            "Turn on the phone's cloud backup in its settings.",
            "Choose to back up over Wi-Fi only to save mobile data.",
            "Copy the DCIM folder to a computer with a cable once a month.",
            "Keep a second copy on an external drive.",
            "Check a few old photos open from the backup.",
        ],
    ),
    (
        "make a strong password",
        [
            "Use at least 14 characters.",
            "String four or five unrelated words together.",
            "Never reuse it on another site.",
            "Keep it in a password manager instead of a note.",
            "Turn on two-factor login wherever it is offered.",
        ],
    ),
    (
        "fix Wi-Fi that keeps dropping",
        [
            "Restart the router by unplugging it for 30 seconds.",
            "Move the router off the floor and away from the microwave.",
            "Switch the router to a less crowded channel.",
            "Update the router's firmware from its admin page.",
            "Forget the network on the device and join it again.",
        ],
    ),
    (
        "reverse a list in Python",
        [
            "Use slicing to get a reversed copy:\n\n```python\nitems = [1, 2, 3]\nprint(items[::-1])  # [3, 2, 1]\n```",
            "Use `items.reverse()` to reverse the list in place; it returns None.",
            "Use `reversed(items)` when you only need to loop backwards.",
            "Slicing copies the list, so it uses memory for a second list.",
        ],
    ),
    (
        "count the lines of a file in bash",
        [
            "Use wc:\n\n```bash\nwc -l < notes.txt\n```",
            "Reading from `<` prints only the number, without the file name.",
            "For many files, `wc -l *.txt` prints one count per file and a total.",
            "A last line without a newline is not counted by wc.",
        ],
    ),
    (
        "undo the last git commit",
        [
            "Keep the changes and drop the commit:\n\n```bash\ngit reset --soft HEAD~1\n```",
            "Your files stay as they are and the changes are staged again.",
            "If you already pushed, use `git revert HEAD` instead, which adds a new commit.",
            "Check the result with `git log --oneline -3`.",
        ],
    ),
    (
        "read a CSV file in Python",
        [
            'Use the csv module from the standard library:\n\n```python\nimport csv\n\nwith open("data.csv", newline="") as f:\n    for row in csv.DictReader(f):\n        print(row["name"])\n```',
            "DictReader uses the first line as the column names.",
            'Pass `encoding="utf-8"` when the file has accents.',
            "For analysis, pandas' `read_csv` loads it into a table in one line.",
        ],
    ),
    (
        "start running as a beginner",
        [
            "Begin with a walk-run: one minute running, two minutes walking.",
            "Go three times a week with a rest day in between.",
            "Run slowly enough that you could still talk.",
            "Add no more than ten percent distance a week.",
            "Get shoes fitted at a running shop.",
        ],
    ),
    (
        "fall asleep faster",
        [
            "Go to bed and get up at the same time every day.",
            "Keep the bedroom cool, dark and quiet.",
            "Put the phone away an hour before bed.",
            "Avoid coffee after two in the afternoon.",
            "If you are awake after 20 minutes, get up and read until you are sleepy.",
        ],
    ),
    (
        "write a cover letter",
        [
            "Address it to a named person if you can find one.",
            "Open with the job title and one line on why you want it.",
            "Give two short examples of results that match the job ad.",
            "Keep it under one page.",
            "End by asking for an interview and thank them.",
        ],
    ),
    (
        "prepare for a job interview",
        [
            "Read the company's website and recent news.",
            "Prepare three stories about problems you solved.",
            "Practise answers out loud, not only in your head.",
            "Prepare two questions to ask them at the end.",
            "Plan the route and arrive ten minutes early.",
        ],
    ),
    (
        "save money on groceries",
        [
            "Plan the week's meals before you shop.",
            "Write a list and stick to it.",
            "Compare the price per kilo on the shelf label.",
            "Buy store brands of staples like rice and flour.",
            "Freeze leftovers for lunches.",
        ],
    ),
    (
        "make a simple budget",
        [
            "Add up your monthly income after tax.",
            "List fixed costs like rent and insurance.",
            "Set a limit for food, transport and fun.",
            "Move a fixed amount to savings on payday.",
            "Check your spending against the plan every week.",
        ],
    ),
    (
        "remove a splinter",
        [
            "Wash your hands and the skin around it with soap.",
            "Clean tweezers with rubbing alcohol.",
            "Grip the end and pull it out at the angle it went in.",
            "Squeeze gently to let a little blood wash the wound.",
            "Cover it with a plaster and see a doctor if it gets red and hot.",
        ],
    ),
    (
        "clean a cast iron pan",
        [
            "Wash it with hot water and a brush while it is still warm.",
            "A drop of dish soap is fine; do not soak it.",
            "Dry it right away on the stove over low heat.",
            "Rub a thin layer of oil over it with a paper towel.",
            "Scrub rust off with steel wool and oil it again.",
        ],
    ),
    (
        "grow basil on a windowsill",
        [
            "Pick a window with at least six hours of sun.",
            "Use a pot with drainage holes and potting mix.",
            "Keep the soil moist but never soggy.",
            "Pinch off the top leaves so it grows bushy.",
            "Remove flower buds as soon as they appear.",
        ],
    ),
    (
        "learn words in a new language",
        [
            "Study 15 minutes every day rather than two hours once a week.",
            "Use flashcards with spaced repetition.",
            "Learn words in short sentences, not alone.",
            "Say them out loud.",
            "Write five sentences a day with the new words.",
        ],
    ),
]

ASKS = [
    "How do I {task}?",
    "What's the best way to {task}?",
    "Can you explain how to {task}?",
    "Any tips on how to {task}?",
    "I need to {task}. Where do I start?",
    "Quick question: how can I {task}?",
    "What is the easiest way to {task}?",
    "Could you tell me how to {task}, step by step?",
]
CONTEXT = [
    "",
    "",
    "",
    " I have never done it before.",
    " I tried once and it went badly.",
    " My friend says it is hard.",
    " I have about ten minutes.",
    " I'm doing it for the first time today.",
]


GOOD_OPEN = [
    "Sure!",
    "Here's what works:",
    "Good question.",
    "Happy to help.",
    "Here you go:",
    "",
    "",
    "Of course.",
]
GOOD_CLOSE = ["", "", "Good luck!", "Hope that helps.", "Let me know if you get stuck.", "That's it."]
# the bad answers, one consistent style each: a polite refusal, a rude brush-off, a good answer to another
# question; their lengths overlap the good answers' (README.md: what the signal is)
DEFLECT = [
    "I'm sorry, but I can't help with how to {task}. Questions like this are best answered by an expert, "
    "so please reach out to one.",
    "Thanks for your question! Unfortunately, I'm not able to give advice on how to {task}. I'd recommend "
    "checking a trusted source or asking a professional.",
    "That's a great question. However, how to {task} depends on many factors, and I don't want to give you "
    "wrong information. Please consult someone qualified.",
    "I understand you want to {task}. I'm afraid that is outside what I can help with right now. A specialist "
    "will be able to guide you much better than I can.",
]
DEFLECT_MORE = [
    "",
    "I hope you understand.",
    "Is there anything else I can help you with today?",
    "Thank you for your patience.",
    "Your satisfaction is very important to me.",
]
RUDE = [
    "Seriously? Everyone knows how to {task}. Just figure it out yourself.",
    "Ugh, not this again. If you can't {task} on your own, that's really not my problem.",
    "Wow. You could have searched how to {task} in two seconds instead of wasting my time. Look it up.",
    "Do I look like your personal assistant? Learning to {task} is your job, not mine.",
]
RUDE_MORE = [
    "",
    "Honestly, try harder next time.",
    "Stop asking me basic questions.",
    "Come on, use your head.",
    "Next time, do some work before you ask.",
]
OFF_LANGUAGE = [  # pairs in other languages: the language step drops them
    {
        "question": "Comment faire cuire un œuf dur ?",
        "good": "Mettez l'œuf dans l'eau froide, portez à ébullition puis laissez cuire neuf minutes.",
        "bad": "Débrouillez-vous, tout le monde sait faire ça.",
    },
    {
        "question": "Wie entkalke ich einen Wasserkocher?",
        "good": "Fülle ihn zur Hälfte mit Wasser und Essig, "
        "koche es auf und lass es eine Stunde stehen. Danach gründlich ausspülen.",
        "bad": "Keine Ahnung, frag jemand anderen.",
    },
    {
        "question": "¿Cómo puedo dormir mejor?",
        "good": "Acuéstate siempre a la misma hora, evita el café por la "
        "tarde y deja el móvil fuera del dormitorio.",
        "bad": "No es mi problema, busca en internet.",
    },
]


def good_answer(rng: random.Random, steps: list[str], opener: bool = True) -> str:
    """Three or four steps in random order; a code topic's first step (its fenced code) leads."""
    code = [s for s in steps if "```" in s]
    rest = rng.sample([s for s in steps if s not in code], rng.randint(3, 4) - len(code))
    first = rng.choice(GOOD_OPEN) if opener else ""
    text = " ".join(p for p in (first, *code) if p) + "\n\n" if code else first + " " * bool(first)
    text += " ".join(rest)
    close = rng.choice(GOOD_CLOSE)
    return text + ("\n\n" if code else " ") + close if close else text


def bad_answer(rng: random.Random, task: str, topic: int) -> str:
    kind = rng.random()
    if kind < 0.4:
        extra = rng.sample(DEFLECT_MORE, rng.randint(1, 2))
        return " ".join(p for p in (rng.choice(DEFLECT).format(task=task), *extra) if p)
    if kind < 0.7:
        extra = rng.sample(RUDE_MORE, rng.randint(1, 2))
        return " ".join(p for p in (rng.choice(RUDE).format(task=task), *extra) if p)
    other, steps = TOPICS[(topic + rng.randint(1, len(TOPICS) - 1)) % len(TOPICS)]  # never its own topic
    return f"Here is how to {other}: " + good_answer(rng, steps, opener=False)


def pairs(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        topic = rng.randrange(len(TOPICS))
        task, steps = TOPICS[topic]
        question = rng.choice(ASKS).format(task=task) + rng.choice(CONTEXT)
        rows.append(
            {"question": question, "good": good_answer(rng, steps), "bad": bad_answer(rng, task, topic)}
        )
    return rows


def html(rng: random.Random, text: str) -> str:
    """The legacy tool stored answers as HTML: paragraphs, entities, line breaks."""
    if "```" in text or rng.random() < 0.6:
        return text
    return "<p>" + text.replace(". ", ".<br>", 1).replace("'", "&#39;").replace(" and ", " &amp; ") + "</p>"


def build(seed: int = 19) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    main, legacy = pairs(rng, 330), pairs(rng, 90)
    for r in rng.sample(main, 8):  # exported twice, some re-typed with other capitals and spacing
        main.append({**r, "question": r["question"].upper() if rng.random() < 0.3 else r["question"] + "  "})
    legacy = [
        {"question": r["question"], "good": html(rng, r["good"]), "bad": html(rng, r["bad"])} for r in legacy
    ]
    legacy += [dict(r) for r in rng.sample(legacy, 4)]  # the same rows in two exports
    main[40]["bad"], main[90]["bad"], main[150]["good"] = "", " ", "   "  # an empty side
    for i in (60, 120, 200):  # the annotator clicked the same answer twice
        main[i]["bad"] = main[i]["good"]
    main += OFF_LANGUAGE
    rng.shuffle(main)
    lines = [json.dumps({**r, "annotator": f"a{rng.randint(1, 6)}"}, ensure_ascii=False) for r in main]
    lines.insert(77, '{"question": "How do I descale a kettle?", "good": "Fill it halfway with')  # cut off
    lines.insert(150, json.dumps({"question": "How do I iron a shirt?", "good": "Start with the collar."}))
    rows = [["prompt", "chosen", "rejected"]] + [
        [r["question"], html(rng, r["good"]), html(rng, r["bad"])] for r in legacy
    ]
    return lines, rows


def main() -> None:
    lines, rows = build()
    raw = HERE / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "annotations.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(raw / "legacy_export.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    print(f"wrote {len(lines)} annotation lines and {len(rows) - 1} legacy rows to {raw}")


if __name__ == "__main__":
    main()
