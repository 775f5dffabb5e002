"""Write the tools example's raw data from real function-calling questions, with the mess a real export has.

Run from the repository root: `python examples/tools/make_data.py [OUT_DIR]` (default examples/tools/raw).
It reads BFCL v4 (the Berkeley Function Calling Leaderboard, in the wheel of PyPI `bfcl-eval` 2026.3.23,
which `make install` downloads) through `bench/bfcl.py`, and writes:

- `raw/openai_export.jsonl`: OpenAI's fine-tuning format (`messages` with `tool_calls`, `tools`), the
  questions users sent to BFCL's live leaderboard (`live_simple`) with their ground-truth call, and
  questions that the offered tool cannot answer (`irrelevance`), answered in text;
- `raw/sharegpt_export.json`: about a fifth of the live questions as another tool exports them
  (LLaMA-Factory's ShareGPT form: `conversations` with `function_call` turns, `tools` as JSON text).

Planted, each on a record of its own (the list is `PLANTS`): arguments written as a Python dict or cut off,
calls to a name the record does not declare (BFCL's own `uber.ride` where the tools declare `uber_ride`,
as OpenAI's name rule makes exporters write it), tool results answering no call, a required argument missing, an integer
sent as text, BFCL's own Python type names (`dict`, `float`) left in a schema, `tools` as JSON text in the
OpenAI export, records exported twice, and questions sent again with a word added (`RETYPED`).
Deterministic: the same bytes on every run.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/bfcl.py reads BFCL from the wheel

from bench import bfcl  # noqa: E402

IRRELEVANT = 40  # questions the offered tool cannot answer, answered in text
SHAREGPT_SHARE = 0.2
# a question sent again, a word added at its start or end: the same call (near_dedup's work)
RETYPED = ("Hi! {}", "{} Thanks!", "{} please", "Quick one: {}")


def _call(record: dict) -> dict:
    return record["messages"][-1]["tool_calls"][0]["function"]


def _args(record: dict) -> dict:
    return json.loads(_call(record)["arguments"])


def python_dict_arguments(r: dict) -> None:
    _call(r)["arguments"] = str(_args(r))  # {'user_id': 7890}: repr, not JSON


def cut_arguments(r: dict) -> None:
    text = _call(r)["arguments"]
    _call(r)["arguments"] = text[: len(text) * 2 // 3]  # an export cut off mid-string


def _item(r: dict) -> dict:
    return next(i for i in bfcl.items("live_simple") if i["id"] == r["bfcl_id"])


def dotted_name(r: dict) -> None:
    _call(r)["name"] = _item(r)["function"][0]["name"]  # BFCL's own name; the tools declare it with _ for .


def result_for_no_call(r: dict) -> None:
    r["messages"][-1:-1] = [{"role": "tool", "tool_call_id": "call_7", "content": '{"status": "ok"}'}]


def result_for_another_id(r: dict) -> None:
    r["messages"] += [
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "ok"}'},
        {"role": "assistant", "content": "Done."},
    ]


def required_missing(r: dict) -> None:
    required = r["tools"][0]["function"]["parameters"]["required"]
    _call(r)["arguments"] = json.dumps({k: v for k, v in _args(r).items() if k != required[0]})


def integer_as_text(r: dict) -> None:
    args = _args(r)
    key = next(k for k, v in args.items() if isinstance(v, int) and not isinstance(v, bool))
    _call(r)["arguments"] = json.dumps({**args, key: str(args[key])})


def gorilla_types(r: dict) -> None:
    r["tools"][0]["function"]["parameters"] = _item(r)["function"][0]["parameters"]  # "type": "dict"


def tools_as_text(r: dict) -> None:
    r["tools"] = json.dumps(r["tools"])  # accepted: the same tools


# plant -> (how many records, which records qualify)
PLANTS = {
    python_dict_arguments: (3, lambda r: True),
    cut_arguments: (1, lambda r: len(_call(r)["arguments"]) > 30),
    dotted_name: (2, lambda r: "." in _item(r)["function"][0]["name"]),
    result_for_no_call: (1, lambda r: True),
    result_for_another_id: (1, lambda r: True),
    required_missing: (2, lambda r: bool(r["tools"][0]["function"]["parameters"].get("required"))),
    integer_as_text: (
        2,
        lambda r: any(isinstance(v, int) and not isinstance(v, bool) for v in _args(r).values()),
    ),
    gorilla_types: (2, lambda r: True),  # every BFCL schema says "dict"
    tools_as_text: (20, lambda r: True),
}


def _source_id(record: dict) -> dict:
    """BFCL's id as a field of the export (prepare keeps it in meta.extra), first, as exports put ids."""
    return {"bfcl_id": record.pop("id"), **record}


def text_answer(record: dict) -> dict:
    """An irrelevance question answered in text: the one tool offered does something else."""
    f = record["tools"][0]["function"]
    answer = f"None of my tools can answer that. The one I have, `{f['name']}`, does this: {f['description']}"
    return {**record, "messages": [*record["messages"], {"role": "assistant", "content": answer}]}


def _question(record: dict) -> str:
    return next(m["content"] for m in record["messages"] if m["role"] == "user")


def retyped(record: dict, form: str) -> dict:
    messages = [dict(m) for m in record["messages"]]
    user = next(m for m in messages if m["role"] == "user")
    user["content"] = form.format(user["content"])
    return {**record, "messages": messages, "note": "retyped"}


def sharegpt(record: dict) -> dict:
    """LLaMA-Factory's ShareGPT form of a one-call record."""
    turns = []
    for m in record["messages"]:
        if m.get("tool_calls"):
            f = m["tool_calls"][0]["function"]
            turns.append(
                {
                    "from": "function_call",
                    "value": json.dumps({"name": f["name"], "arguments": json.loads(f["arguments"])}),
                }
            )
        else:
            turns.append(
                {
                    "from": {"user": "human", "system": "system", "assistant": "gpt"}[m["role"]],
                    "value": m["content"],
                }
            )
    return {"bfcl_id": record["bfcl_id"], "conversations": turns, "tools": json.dumps(record["tools"])}


def build() -> tuple[list[dict], list[dict]]:
    rng = random.Random(30)
    live = [_source_id(r) for r in bfcl.bfcl("live_simple")]
    irrelevant = [text_answer(_source_id(r)) for r in rng.sample(bfcl.bfcl("irrelevance"), IRRELEVANT)]
    order = list(range(len(live)))
    rng.shuffle(order)
    taken: set[int] = set()
    for plant, (n, fits) in PLANTS.items():
        chosen = [i for i in order if i not in taken and fits(live[i])][:n]
        for i in chosen:
            plant(live[i])
            live[i]["note"] = plant.__name__  # what was planted: prepare keeps it in meta.extra
        taken.update(chosen)
    clean = [i for i in order if i not in taken]
    to_sharegpt = set(clean[: int(len(live) * SHAREGPT_SHARE)])
    twice = [live[i] for i in clean[len(to_sharegpt) : len(to_sharegpt) + 8]]
    openai = [r for i, r in enumerate(live) if i not in to_sharegpt] + irrelevant
    openai += [{**r, "note": "exported twice"} for r in twice[:6]]
    shared = [sharegpt(live[i]) for i in sorted(to_sharegpt)]
    shared += [{**sharegpt(r), "note": "also in the OpenAI export"} for r in twice[6:]]
    long = [live[i] for i in clean[len(to_sharegpt) + 8 :] if len(_question(live[i]).split()) >= 20]
    openai += [retyped(r, form) for r, form in zip(long[: len(RETYPED)], RETYPED, strict=True)]
    rng.shuffle(openai)
    rng.shuffle(shared)
    return openai, shared


def main(out: Path) -> None:
    openai, shared = build()
    out.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in openai]
    (out / "openai_export.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ",\n".join(json.dumps(r, ensure_ascii=False) for r in shared)  # a JSON array, a record a line
    (out / "sharegpt_export.json").write_text(f"[\n{rows}\n]\n", encoding="utf-8")
    print(f"{out}: {len(openai)} OpenAI records, {len(shared)} ShareGPT records")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "raw")
