"""fineweb: FineWeb's extra rules (Penedo et al. 2024) with datatrove's defaults."""

from __future__ import annotations

from typing import Any

from lmforge.data.steps.base import Filter, words
from lmforge.data.steps.gopher import duplicates

# the common terminal marks of datatrove's TERMINAL_PUNCTUATION (which lists ~150 scripts' full stops)
TERMINAL = (
    ".",
    "!",
    "?",
    "։",
    "؟",
    "۔",
    "।",
    "॥",
    "။",
    "።",
    "፧",
    "።",
    "。",
    "！",
    "？",
    "｡",
    "…",
    '"',
    "'",
    "”",
    "’",
    ")",
)


class FineWeb(Filter):
    """Drops lists and menus: < 12% of lines end in punctuation, > 67% of lines <= 30 characters,
    duplicate-line characters > 1%, or more than 0.3 newlines per word."""

    name = "fineweb"

    def __init__(
        self,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
        stop_chars: list[str] | None = None,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.o = dict(locals())
        self.stop = tuple(stop_chars) if stop_chars else TERMINAL

    def keep(self, text: str) -> Any:
        o = self.o
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return False, "empty text"
        punct = sum(line.endswith(self.stop) for line in lines) / len(lines)
        if punct < o["line_punct_thr"] and not (punct == 0 and o["line_punct_exclude_zero"]):
            return False, f"few lines end in punctuation ({punct:.2f} < {o['line_punct_thr']})"
        short = sum(len(line) <= o["short_line_length"] for line in lines) / len(lines)
        if short > o["short_line_thr"]:
            return False, f"too many short lines ({short:.2f} > {o['short_line_thr']})"
        dup = duplicates(lines)[1] / max(len(text.replace("\n", "")), 1)
        if dup > o["char_duplicates_ratio"]:
            return False, f"duplicate line characters ({dup:.3f} > {o['char_duplicates_ratio']})"
        ratio = text.count("\n") / max(len(words(text)), 1)
        if ratio > o["new_line_ratio"]:
            return False, f"too many newlines per word ({ratio:.2f} > {o['new_line_ratio']})"
        return True
