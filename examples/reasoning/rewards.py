"""The reasoning example's reward: 0.5 for a well-formed `<answer>N</answer>`, plus 0.5 when N is right.

TRL's signature, so the same function works in TRL's GRPOTrainer: `prompts` and `completions` are texts
(or messages), `answer` is the records' reference column (one per completion), the rest are ignored.
"""

from __future__ import annotations

import re

ANSWER = re.compile(r"<answer>\s*(-?\d+)\s*</answer>")


def arithmetic(prompts, completions, answer, **columns):
    """0 without a well-formed answer; 0.5 with one; 1.0 when its number (the last one given) is right.

    >>> arithmetic(["What is 2 + 3?"] * 3, ["<answer>5</answer>", "<answer> 6 </answer>", "5"], ["5"] * 3)
    [1.0, 0.5, 0.0]
    """
    scores = []
    for completion, reference in zip(completions, answer, strict=True):
        text = completion if isinstance(completion, str) else completion[-1]["content"]
        found = ANSWER.findall(text)
        scores.append(0.0 if not found else 0.5 + 0.5 * (int(found[-1]) == int(reference)))
    return scores
