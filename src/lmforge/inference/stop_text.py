"""Stop strings on streamed text: where the answer ends, and how much of its tail to hold back.

A stream may only show text that no later token can turn into a stop string, and never the stop string
itself: the tail that could still grow into one is held back until the next token decides.
"""

from __future__ import annotations


def visible_end(text: str, stops: list[str], new: int | None = None) -> int | None:
    """Where the answer ends: the start of the earliest stop string in `text`, or None when none occurs.
    `new`: only the last `new` characters are new, and no stop string lies wholly before them, so only a
    stop string that ends in them is looked for (the search is as long as the new text, not the answer).

    >>> visible_end("Paris.\\nQ: next", ["\\nQ:", "."]), visible_end("Paris.\\nQ", ["\\nQ"], new=1)
    (5, 6)
    """
    start = 0 if new is None else len(text) - new
    hits = [i for i in (text.find(s, max(start - len(s) + 1, 0)) for s in stops) if i >= 0]
    return min(hits) if hits else None


def held_back(text: str, stops: list[str]) -> int:
    """Characters at the end of `text` not to show yet: the longest tail that begins a stop string, and an
    incomplete UTF-8 character (the tokenizer decodes half a character as U+FFFD until its last byte comes).

    >>> held_back("Paris\\nQ", ["\\nQ:"]), held_back("Paris", ["\\nQ:"]), held_back("caf\\ufffd", [])
    (2, 0, 1)
    """
    hold = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), hold, -1):
            if text.endswith(stop[:k]):
                hold = k
                break
    if text.endswith("\ufffd"):
        hold = max(hold, len(text) - len(text.rstrip("\ufffd")))
    return hold
