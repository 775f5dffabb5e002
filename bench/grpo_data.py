"""The GRPO benchmark's data and rewards: seeded arithmetic prompts, TRL-signature reward functions that
both sides call, and the notes cell of its RESULTS.md row."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

from bench import harness

QUESTION = "What is {a} + {b}? Think briefly, then give the number as <answer>N</answer>."
ANSWER = re.compile(r"<answer>\s*(-?\d+)\s*</answer>")


def _text(completion: Any) -> str:
    return completion[-1]["content"] if isinstance(completion, list) else completion


def format_reward(prompts: list, completions: list, **columns: Any) -> list[float]:
    """1 for a well-formed <answer>N</answer> somewhere in the completion."""
    return [1.0 if ANSWER.search(_text(c)) else 0.0 for c in completions]


def answer_reward(prompts: list, completions: list, answer: list, **columns: Any) -> list[float]:
    """1 when the last <answer> holds the record's number."""
    found = [ANSWER.findall(_text(c)) for c in completions]
    return [1.0 if f and int(f[-1]) == int(a) else 0.0 for f, a in zip(found, answer, strict=True)]


def arithmetic(n: int, seed: int) -> list[dict[str, Any]]:
    """n seeded prepared rl records: {"messages": [user question], "meta": {"extra": {"answer": a + b}}}."""
    r = random.Random(seed)
    out = []
    for i in range(n):
        a, b = r.randint(10, 99), r.randint(10, 99)
        msg = [{"role": "user", "content": QUESTION.format(a=a, b=b)}]
        out.append(
            {"id": f"bench/train.jsonl:{i + 1}", "messages": msg, "meta": {"extra": {"answer": a + b}}}
        )
    return out


def make_data(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    """train.jsonl of steps x prompts records (one epoch) and lmforge's epoch-0 order of them."""
    from lmforge.training.batches import epoch_batches

    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    n = p["steps"] * p["prompts"]
    recs = arithmetic(n, p["seed"])
    (work / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    order = [i for b in epoch_batches(n, p["prompts"], p["seed"], 0) for i in b]
    return {"data": str(work / "data"), "order": order}


def fresh_copy(p: dict[str, Any], who: str) -> Path:
    out = Path(p["work"]) / who
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    shutil.copy(Path(p["data"]) / "train.jsonl", out / "data" / "train.jsonl")
    return out


def describe(p: dict[str, Any], s: dict[str, Any], runs: dict[str, Any], reps: int) -> str:
    """The notes cell of the RESULTS.md row: the settings, then each side's numbers."""
    timed = (p["steps"] - p["warmup"]) * p["prompts"]
    head = (
        f"{p['steps']} steps x {p['prompts']} arithmetic prompts x {p['generations']} completions "
        f"(prompts/s over the last {timed} prompts, after {p['warmup']} warm-up step), max_new_tokens "
        f"{p['max_new_tokens']}, temperature {p['temperature']}, top_p {p['top_p']}, LoRA r16 all-linear, fp32, "
        f"{reps} rep(s), {p['threads']} threads, load average {p['load_before'][0]:.1f} before / "
        f"{p['load_after'][0]:.1f} after (other jobs on the machine); "
    )
    return head + "; ".join(
        f"{v}: {harness.fmt(s[v]['prompts_per_s'])} prompts/s, per step sampling {s[v]['generate_s']['median']:.1f} s "
        f"+ update {s[v]['update_s']['median']:.1f} s, completion tokens {runs[v][0]['completion_tokens']} "
        f"(generated positions {runs[v][0]['generated_positions']}, prompt tokens {runs[v][0]['prompt_tokens']}), "
        f"{s[v]['completion_tokens_per_s']['median']:.1f} completion tokens/s, "
        f"train peak RSS {s[v]['train_peak_rss_mb']['median']:.0f} MB, mean reward {s[v]['reward_mean']['median']:.3f}"
        for v in runs
    )
