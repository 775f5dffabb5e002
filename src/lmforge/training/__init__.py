"""Fine-tuning: `run.train(cfg)` drives the loop (loop.py) with its optimizer (optim.py), model set-up
(setup.py), batches (batches.py), loss (loss.py), val loss (validation.py), checkpoints (checkpoint.py),
processes (distributed.py) and metrics.jsonl / TensorBoard (metrics_log.py). The public call is `lmforge.train`."""
