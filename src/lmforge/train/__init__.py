"""Fine-tuning: `train(cfg)` (run.py) drives the loop (loop.py) with its optimizer (optim.py), model set-up
(setup.py), batches (batches.py), loss (loss.py), evaluation (evaluation.py), checkpoints (checkpoint.py)
and metrics (metrics.py)."""

from lmforge.train.run import train, train_cli

__all__ = ["train", "train_cli"]
