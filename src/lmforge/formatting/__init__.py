"""Records -> model inputs: chat templates (templates.py), the tokenised cache (token_cache.py), packing
(packing.py) and the pre-flight checks of `lmforge inspect` (preflight.py, preflight_lengths.py).
What each task turns a record into lives in lmforge.tasks."""
