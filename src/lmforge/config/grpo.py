"""`train:` keys of `objective: grpo` (online RL with verifiable rewards; docs/grpo.md).

Their names and defaults are TRL's `GRPOConfig` where it has one, so a TRL recipe carries over.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lmforge.config.base import Section


class GrpoKeys(Section):
    rewards: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="grpo: reward functions, each `path/to/file.py:fn` or `package.module:fn` (TRL's signature "
        "reward(prompts, completions, **columns) -> list[float | None]) or a built-in by name, with options as "
        "{name: exact_match, field: answer, pattern: '<answer>(.*?)</answer>'}: exact_match, format, math, "
        "json_valid, tool_call, length (docs/grpo.md).",
    )
    reward_weights: list[float] | None = Field(
        None, description="grpo: weight of each reward function in the summed reward; null = all 1."
    )
    num_generations: int = Field(
        8,
        ge=2,
        description="grpo: completions sampled per prompt (the group its advantages are relative to).",
    )
    max_new_tokens: int = Field(256, gt=0, description="grpo: token limit of each sampled completion.")
    temperature: float = Field(1.0, gt=0, description="grpo: sampling temperature of the completions.")
    top_p: float = Field(1.0, gt=0, le=1, description="grpo: nucleus sampling of the completions.")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group",
        description="grpo: divide each advantage by its group's reward std (group), the batch's (batch), or not "
        "at all (none, Dr. GRPO's advice).",
    )
    loss_type: Literal["grpo", "bnpo", "dr_grpo", "dapo"] = Field(
        "dapo",
        description="grpo: how token losses are averaged: grpo (per completion, then over completions), bnpo (over "
        "the micro-batch's tokens), dr_grpo (by completions x max_new_tokens), dapo (over the generation batch's "
        "tokens; TRL's default).",
    )
    epsilon: float = Field(0.2, gt=0, description="grpo: lower clip of the importance ratio, 1 - epsilon.")
    epsilon_high: float | None = Field(
        None,
        gt=0,
        description="grpo: upper clip 1 + epsilon_high (DAPO's clip-higher: 0.28); null = epsilon.",
    )
    num_iterations: int = Field(
        1, ge=1, description="grpo: optimizer updates on each batch of sampled completions (mu in the paper)."
    )
    mask_truncated: bool = Field(
        False,
        description="grpo: completions cut at max_new_tokens carry no loss (DAPO's overlong filtering).",
    )
