"""Data preparation: readers -> steps -> dedup -> split -> train/val/test.jsonl, rejects, stats.

`from lmforge.data.prepare import prepare` (also `lmforge.prepare`); steps live in `lmforge.data.steps`.
"""
