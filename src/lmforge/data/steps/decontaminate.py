"""decontaminate: drop training records that share an n-gram (13 words by default) with the eval sets.

Words are the language's (words.py: Chinese, Japanese, Korean, Thai segmented). Both sides take the
language from the script, not from meta.language: an eval text has no meta, and a training record and
the eval text it copies must be cut into the same words."""

from __future__ import annotations

import os
import re
from typing import Any

from lmforge.data.steps.base import Filter
from lmforge.data.words import MARKS, split
from lmforge.errors import UserError

_WORD = re.compile(rf"[\w{MARKS}]+")


def ngrams(text: str, n: int) -> list[str]:
    """Lowercased word n-grams: `ngrams("A b c", 2)` -> ["a b", "b c"]; `ngrams("我喜欢猫", 2)` -> ["我 喜欢", "喜欢 猫"]."""
    ws = split(text.lower(), _WORD.findall)
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


class Decontaminate(Filter):
    """`{decontaminate: {against: ["eval/*.jsonl"], n: 13}}`; every text value of the eval files counts."""

    keys_records = True  # a preference pair is judged on its prompt and chosen answer

    name = "decontaminate"

    def __init__(self, against: list[str] | None = None, n: int = 13, **kw) -> None:
        super().__init__(**kw)
        if not against:
            raise UserError(
                "decontaminate: give the eval files, e.g. {decontaminate: {against: [eval/*.jsonl]}}"
            )
        self.n = n
        self.index: dict[str, str] = {}  # n-gram -> eval record id
        self._load([str(self.ctx.base_dir / a) if not a.startswith("/") else a for a in against])

    def _load(self, patterns: list[str]) -> None:
        from pathlib import Path

        from lmforge.data.readers import read_shard
        from lmforge.data.sources import Shard, detect_format, expand, split_ext

        for pattern in patterns:
            files = expand(Path(pattern))
            if not files:
                raise UserError(f"decontaminate: no eval file matches {pattern}")
            for f in files:
                rel = os.path.relpath(f, self.ctx.base_dir) if f.startswith(str(self.ctx.base_dir)) else f
                shard = Shard(0, f, rel, detect_format(f, "auto"), split_ext(f)[1])
                for rid, row, _, _, _ in read_shard(shard, "line", "repair"):
                    for value in (row or {}).values():
                        if isinstance(value, str):
                            for g in ngrams(value, self.n):
                                self.index.setdefault(g, rid)

    def keep(self, text: str) -> Any:
        for g in ngrams(text, self.n):
            if g in self.index:
                return False, f"eval overlap ({self.n}-gram '{g[:60]}' in {self.index[g]})"
        return True
