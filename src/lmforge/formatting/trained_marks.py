"""An example's text with its trained tokens marked, for `lmforge inspect` (preflight.py, preflight_tools.py)."""

from __future__ import annotations

from typing import Any

TRAINED_OPEN, TRAINED_CLOSE = "[[", "]]"  # marks the trained tokens in the rendered example
COLOR_OPEN, COLOR_CLOSE = "\033[1;32m", "\033[0m"  # the same in a terminal: bold green


def example_spans(example: dict, tokenizer: Any) -> list[list]:
    """An example's text in runs of trained and untrained tokens: [["...assistant\\n", False], ["Hi!<|im_end|>", True], ...]."""
    out, run, trained = [], [], None
    for tok, label in [*zip(example["input_ids"], example["labels"], strict=True), (None, None)]:
        flag = label is not None and label != -100
        if run and (tok is None or flag != trained):
            out.append([tokenizer.decode(run), trained])
            run = []
        run.append(tok)
        trained = flag
    return out


def marked(spans: list[list], color: bool = False) -> str:
    """The spans as text, trained runs inside [[ ]] (or bold green with `color`).

    >>> marked([["assistant\\n", False], ["Hi!<|im_end|>", True], ["\\n", False]])
    'assistant\\n[[Hi!<|im_end|>]]\\n'
    """
    mark = (COLOR_OPEN, COLOR_CLOSE) if color else (TRAINED_OPEN, TRAINED_CLOSE)
    return "".join(f"{mark[0]}{text}{mark[1]}" if trained else text for text, trained in spans)
