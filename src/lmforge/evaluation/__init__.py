"""`lmforge eval`: base vs fine-tuned on a held-out split (compare.py) with the task metrics (metrics.py)."""
