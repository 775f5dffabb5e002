"""`lmforge export`: model folders that load anywhere (hf.py: plain transformers / peft folders, merged or not)."""
