"""Using a model: generation with its chat template (generation.py) and batch predictions (prediction.py)."""
