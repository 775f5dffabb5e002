"""Write the reasoning example's prompts: procedurally generated sums, with their answers, for GRPO.

Run from the repository root: `python examples/reasoning/make_data.py [OUT_DIR]` (default
examples/reasoning/raw). It needs `pip install reasoning-gym==0.1.25` (not an lmforge extra: it pulls in
about 30 packages, two of them built from source, and the committed raw/ is all the example reads).

The questions are reasoning-gym's `chain_sum` task (seeded, no download): 2 or 3 terms of 1 or 2 digits
added or subtracted, e.g. `43 - 7 + 12`. Each becomes a `task.type: rl` record, the question plus an
instruction to answer inside `<answer>...</answer>`, and `answer`, the reference (reasoning-gym's, as
text), which reaches the reward function (rewards.py) as a column. One file of distinct questions;
exp.yaml splits it into the prompts training samples from and the held-out prompts eval scores.
Deterministic: the same bytes on every run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import reasoning_gym

SEED = 2026
RECORDS = 300  # exp.yaml: 200 train, 100 held out (test)
INSTRUCTION = "Put only the final number inside <answer></answer> tags, for example <answer>17</answer>."


def records() -> list[dict]:
    data = reasoning_gym.create_dataset(
        "chain_sum",
        seed=SEED,
        size=4 * RECORDS,
        min_terms=2,
        max_terms=3,
        min_digits=1,
        max_digits=2,
    )
    out, seen = [], set()
    for item in data:
        expression = item["metadata"]["expression"]
        if expression in seen:  # one digit sums repeat; a held-out prompt must not be a training one
            continue
        seen.add(expression)
        out.append({"prompt": f"What is {expression}? {INSTRUCTION}", "answer": item["answer"]})
        if len(out) == RECORDS:
            return out
    raise SystemExit(f"reasoning-gym made only {len(out)} distinct questions")


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = records()
    (out_dir / "arithmetic.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} records to {out_dir / 'arithmetic.jsonl'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "raw")
