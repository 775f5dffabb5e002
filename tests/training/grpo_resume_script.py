"""Run a tiny GRPO training in its own process (for the kill -9 / resume test).

usage: python grpo_resume_script.py MODEL ROOT [--resume] [--slow-after N]
ROOT holds the project (exp.yaml, data); the run goes to ROOT/run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_grpo import _project  # noqa: E402

import lmforge  # noqa: E402


def main() -> None:
    model, root = sys.argv[1], Path(sys.argv[2])
    root.mkdir(parents=True, exist_ok=True)
    slow_after = int(sys.argv[sys.argv.index("--slow-after") + 1]) if "--slow-after" in sys.argv else None
    exp = _project(root, model, max_steps=8, save_every=3, keep=2, num_iterations=2, beta=0.05, lr=1e-2)
    cfg = lmforge.load_config(exp)
    if not (root / "run" / "data" / "train.jsonl").exists():
        lmforge.prepare(cfg)

    def slow(run, row):  # gives the test time to kill the process after checkpoint step-N is written
        if slow_after is not None and run.state.step >= slow_after:
            time.sleep(0.5)

    lmforge.train(cfg, resume="--resume" in sys.argv, callbacks=[slow])


if __name__ == "__main__":
    main()
