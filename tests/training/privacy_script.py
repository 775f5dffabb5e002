"""Run a tiny DP-SGD LoRA training in its own process (for the kill -9 / resume test of train.privacy).

usage: python privacy_script.py MODEL OUT [--resume] [--slow-after N] [--secret HEX]
--secret fixes the run's DP secret (two runs that share it can be compared bit for bit); a resume reads
it from the checkpoint.
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
    if "--secret" in sys.argv:
        import lmforge.training.privacy_loop as privacy_loop

        secret = bytes.fromhex(sys.argv[sys.argv.index("--secret") + 1])
        privacy_loop.new_secret = lambda: secret
    cfg = make_cfg(
        model,
        out,
        "train.max_steps=12",
        "train.save_every=3",
        "train.keep=2",
        "train.grad_accum=2",
        "train.eval_every=4",
        "model.lora.dropout=0.1",
        "train.lr=1e-3",
        "train.privacy.target_epsilon=6",
    )
    examples = fake_examples(40, vocab=250, seed=5)
    for i, e in enumerate(examples):  # 20 units of two records each
        e["privacy_unit"] = i // 2
    data = (examples, fake_examples(8, vocab=250, seed=6))

    def slow(run, row):  # gives the test time to kill the process after checkpoint step-N is written
        if slow_after is not None and run.state.step >= slow_after:
            time.sleep(0.5)

    train(cfg, resume="--resume" in sys.argv, data=data, collate=stand_in_collate, callbacks=[slow])


if __name__ == "__main__":
    main()
