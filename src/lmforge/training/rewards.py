"""GRPO's reward functions: the user's own (TRL's signature) and the built-ins people reach for.

A reward function is `reward(prompts, completions, **columns) -> list[float | None]`, TRL's signature:
`prompts` and `completions` are strings, or (for chat records) lists of messages, the completion
`[{"role": "assistant", "content": ...}]`; `columns` holds every other field of the records by name
(one value per completion) and `completion_ids` (token ids). None means "not mine to score": a
completion no function scores gets no advantage (training/grpo_loss.py).

`train.rewards` lists them: `"path/to/file.py:fn"` or `"package.module:fn"` (the user's), or a
built-in by name, optionally with options: `{name: exact_match, field: answer, pattern: "<answer>(.*?)</answer>"}`.
  exact_match  the extracted answer equals the record's `field` (after stripping; `casefold: true`)
  format       1 where `pattern` (a regex) is found in the completion (`full: true`: matches all of it)
  math         `field` and the extracted answer are the same mathematical object (HF's math-verify)
  json_valid   the extracted answer parses as JSON
  tool_call    the completion's tool calls (<tool_call> blocks, formatting/tool_parse.py) equal `field`'s
  length       DAPO's soft overlong penalty: 0 up to `max_tokens - cache`, then down to -1 at `max_tokens`
`pattern` (where a built-in takes one) extracts the answer: its first group at the last match, or the
whole completion stripped when absent; a completion without a match scores 0.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lmforge.data.steps.custom import load_callable
from lmforge.errors import UserError

RewardFn = Callable[..., list]


@dataclass
class Reward:
    name: str  # what metrics and errors call it: the built-in's name or the function's spec
    fn: RewardFn


def completion_text(completion: Any) -> str:
    """A completion as text: a string, or the content of a chat completion's messages.

    >>> completion_text([{"role": "assistant", "content": "42"}])
    '42'
    """
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion)


def _extract(text: str, pattern: str | None) -> str | None:
    if pattern is None:
        return text.strip()
    found = re.findall(pattern, text, flags=re.DOTALL)
    if not found:
        return None
    last = found[-1]
    return (last[0] if isinstance(last, tuple) else last).strip()


def exact_match(field: str = "answer", pattern: str | None = None, casefold: bool = False) -> RewardFn:
    def reward(prompts, completions, **columns):
        fold = str.casefold if casefold else str
        out = []
        for completion, gold in zip(completions, _column(columns, field, "exact_match"), strict=True):
            got = _extract(completion_text(completion), pattern)
            out.append(
                None if gold is None else float(got is not None and fold(got) == fold(str(gold).strip()))
            )
        return out

    return reward


def format_match(pattern: str = "", full: bool = False) -> RewardFn:
    if not pattern:
        raise UserError("train.rewards: format needs a `pattern` (a regular expression)")
    rx = re.compile(pattern, flags=re.DOTALL)

    def reward(prompts, completions, **columns):
        find = rx.fullmatch if full else rx.search
        return [
            float(find(completion_text(c).strip() if full else completion_text(c)) is not None)
            for c in completions
        ]

    return reward


def math_match(field: str = "answer", pattern: str | None = None) -> RewardFn:
    try:
        from math_verify import parse, verify
    except ImportError:
        raise UserError(
            "train.rewards: math needs the math-verify package: pip install 'lmforge[rl]'"
        ) from None

    def reward(prompts, completions, **columns):
        out = []
        for completion, gold in zip(completions, _column(columns, field, "math"), strict=True):
            gold_parsed = parse(str(gold)) if gold is not None else []
            if not gold_parsed:  # a reference math-verify cannot read scores nothing, rather than 0
                out.append(None)
                continue
            got = _extract(completion_text(completion), pattern)
            out.append(float(got is not None and bool(verify(gold_parsed, parse(got)))))
        return out

    return reward


def json_valid(pattern: str | None = None) -> RewardFn:
    def reward(prompts, completions, **columns):
        out = []
        for c in completions:
            got = _extract(completion_text(c), pattern)
            try:
                json.loads(got if got is not None else "")
                out.append(1.0)
            except ValueError:
                out.append(0.0)
        return out

    return reward


def tool_call(field: str = "tool_calls") -> RewardFn:
    """1 where the calls equal the record's (names and arguments as JSON, as a multiset; evaluation's rule)."""
    from lmforge.evaluation.tool_metrics import score_call
    from lmforge.formatting.tool_parse import parse_assistant

    def reward(prompts, completions, **columns):
        out = []
        for c, gold in zip(completions, _column(columns, field, "tool_call"), strict=True):
            if gold is None:
                out.append(None)
            elif not gold:  # no call due: right when none was made
                reply = parse_assistant(completion_text(c))
                out.append(float(not (reply.tool_calls or reply.errors)))
            else:
                out.append(float(score_call(gold, parse_assistant(completion_text(c)))["call"]))
        return out

    return reward


def length_penalty(max_tokens: int = 0, cache: int = 0) -> RewardFn:
    if max_tokens <= 0 or not 0 < cache <= max_tokens:
        raise UserError("train.rewards: length needs max_tokens > 0 and 0 < cache <= max_tokens")

    def reward(prompts, completions, completion_ids=None, **columns):
        soft = max_tokens - cache
        return [0.0 if len(ids) <= soft else max(-1.0, (soft - len(ids)) / cache) for ids in completion_ids]

    return reward


BUILTINS: dict[str, Callable[..., RewardFn]] = {
    "exact_match": exact_match,
    "format": format_match,
    "math": math_match,
    "json_valid": json_valid,
    "tool_call": tool_call,
    "length": length_penalty,
}


def _column(columns: dict[str, list], field: str, who: str) -> list:
    if field not in columns:
        have = ", ".join(sorted(k for k in columns if k != "completion_ids")) or "none"
        raise UserError(
            f"train.rewards: {who} reads the field '{field}', which the records lack (they have: {have})"
        )
    return columns[field]


def load_rewards(specs: list[str | dict], base_dir: str | Path = ".") -> list[Reward]:
    """`train.rewards` -> the functions, built-ins configured and user functions imported."""
    rewards = []
    for spec in specs:
        opts = dict(spec) if isinstance(spec, dict) else {"name": spec}
        name = str(opts.pop("name", ""))
        if name in BUILTINS:
            try:
                rewards.append(Reward(name, BUILTINS[name](**opts)))
            except TypeError as e:
                raise UserError(f"train.rewards: {name}: {e}") from None
        elif ":" in name and not opts:
            rewards.append(Reward(name, load_callable(name, Path(base_dir), "train.rewards")))
        else:
            known = ", ".join(BUILTINS)
            raise UserError(f"train.rewards: '{name}' is neither a built-in ({known}) nor 'module:function'")
    return rewards


def score(
    rewards: list[Reward],
    prompts: list,
    completions: list,
    columns: dict[str, list],
    completion_ids: list[list[int]],
) -> torch.Tensor:
    """(N, F) rewards of N completions by F functions; NaN where a function returned None."""
    out = torch.full((len(completions), len(rewards)), math.nan)
    for j, reward in enumerate(rewards):
        try:
            values = reward.fn(prompts, completions, completion_ids=completion_ids, **columns)
        except UserError:
            raise
        except Exception as e:  # the user's code: name it and the first record, never a bare traceback
            raise UserError(
                f"reward function '{reward.name}' raised {type(e).__name__}: {e} "
                f"(on a batch starting with prompt {str(prompts[0])[:80]!r})"
            ) from None
        if not isinstance(values, (list, tuple)) or len(values) != len(completions):
            got = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
            raise UserError(
                f"reward function '{reward.name}' returned {got} values for {len(completions)} completions"
            )
        for i, v in enumerate(values):
            if v is None:
                continue
            if not isinstance(v, (int, float)) or math.isnan(v):  # bools count as 0/1
                raise UserError(
                    f"reward function '{reward.name}' returned {v!r} for completion {i}: not a number"
                )
            out[i, j] = float(v)
    return out
