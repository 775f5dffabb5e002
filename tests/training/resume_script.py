"""Run a tiny LoRA training in its own process (for the kill -9 / resume test).

usage: python resume_script.py MODEL OUT [--resume] [--slow-after N] [--distributed ddp|fsdp]
(also under torchrun: every process runs this script)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from train_helpers import fake_examples, make_cfg, stand_in_collate  # noqa: E402

from lmforge.training.run import train  # noqa: E402


def main() -> None:
    model, out = sys.argv[1], sys.argv[2]
    slow_after = int(sys.argv[sys.argv.index("--slow-after") + 1]) if "--slow-after" in sys.argv else None
    strategy = sys.argv[sys.argv.index("--distributed") + 1] if "--distributed" in sys.argv else "ddp"
    cfg = make_cfg(
        model,
        out,
        "train.max_steps=12",
        "train.save_every=3",
        "train.keep=2",
        "train.grad_accum=2",
        "train.eval_every=4",
        "model.lora.dropout=0.1",
        "train.warmup_steps=2",
        "train.lr=1e-3",
        f"train.distributed={strategy}",
    )
    data = (fake_examples(40, vocab=250, seed=5), fake_examples(8, vocab=250, seed=6))

    def slow(run, row):  # gives the test time to kill the process after checkpoint step-N is written
        if slow_after is not None and run.state.step >= slow_after:
            time.sleep(0.5)

    train(cfg, resume="--resume" in sys.argv, data=data, collate=stand_in_collate, callbacks=[slow])


if __name__ == "__main__":
    main()
