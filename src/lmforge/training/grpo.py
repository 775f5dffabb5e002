"""`train.objective: grpo`: one optimizer step = sample, score, then update on what was sampled.

A window (one optimizer step) is `grad_accum` micro-batches of `batch_size` prompts. For each prompt the
model samples `num_generations` completions (batched, KV cache, eval mode: no dropout); the reward
functions score them (training/rewards.py), advantages are normalised within each prompt's group, and
the clipped policy loss (training/grpo_loss.py) is backpropagated micro-batch by micro-batch, then one
optimizer step, `num_iterations` times over the same completions (the learning rate schedule advances
once per window). The reference for `beta > 0` is the base with the adapter disabled: no second model.

Log-probs of the completions go through the backbone and the LM head at completion positions only
(`preference_loss._answer_hidden` + `LMHead.logps`), as every other objective.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from lmforge.errors import UserError
from lmforge.formatting.templates import eos_token_ids
from lmforge.inference.generation import left_pad
from lmforge.training.grpo_loss import group_advantages, policy_loss
from lmforge.training.lm_head import split_head
from lmforge.training.preference_loss import IGNORE, _answer_hidden, _rows
from lmforge.training.rewards import load_rewards, score


@dataclass
class Rollout:
    """The sampled completions of one micro-batch, (R = prompts x generations) rows."""

    prompts: list[list[int]]  # (R,) prompt ids, unpadded
    completions: torch.Tensor  # (R, C) generated ids, padded after their end
    valid: torch.Tensor  # (R, C) 1 up to and including the EOS (or the last token when cut off)
    loss_mask: torch.Tensor  # (R, C) valid, without truncated rows under train.mask_truncated
    advantages: torch.Tensor | None = None  # (R,)
    old_logps: torch.Tensor | None = None  # (R, C) at sampling, when num_iterations > 1
    ref_logps: torch.Tensor | None = None  # (R, C) under the disabled adapter, when beta > 0


def collate_prompts(examples: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """A micro-batch of rl examples is the examples themselves: sampling happens in the step."""
    return {"examples": examples, "n_tokens": torch.tensor(sum(len(e["input_ids"]) for e in examples))}


class GrpoStep:
    def __init__(self, run: Any) -> None:
        t = run.cfg.train
        if run.accelerator.num_processes > 1:
            raise UserError("train.objective: grpo runs in one process for now: set train.num_processes: 1")
        if t.beta and not hasattr(run.model, "disable_adapter"):
            raise UserError(
                "train.beta > 0 with grpo needs LoRA (the reference is the base with the adapter off)"
            )
        self.t = t
        self.rewards = load_rewards(t.rewards, run.cfg.base_dir)
        self.weights = torch.tensor(t.reward_weights or [1.0] * len(self.rewards))
        self.stops = sorted(eos_token_ids(run.tokenizer))
        self.stats: dict[str, list[float]] = {}
        self.last: list[Rollout] = []  # the last window's rollouts (callbacks, tests)

    # ---------------------------------------------------------------- one optimizer step
    def step(self, run: Any, window: list[dict[str, Any]]) -> tuple[float, int, int]:
        """Sample and score every micro-batch of the window, then `num_iterations` updates; (loss, tokens, inputs)."""
        t0 = time.perf_counter()
        rollouts = self.last = [self.rollout(run, b["examples"]) for b in window]
        t1 = time.perf_counter()
        batch_tokens = float(sum(r.loss_mask.sum() for r in rollouts))
        total = 0.0
        for _ in range(self.t.num_iterations):
            total = self.update(run, rollouts, batch_tokens)
        self._add("time/generate_s", t1 - t0)
        self._add("time/update_s", time.perf_counter() - t1)
        inputs = sum(int(r.valid.sum()) + sum(len(p) for p in r.prompts) for r in rollouts)
        return total, int(batch_tokens), inputs

    def update(self, run: Any, rollouts: list[Rollout], batch_tokens: float) -> float:
        acc, model = run.accelerator, run.model
        model.train()
        loss_sum = 0.0
        for r in rollouts:
            with acc.autocast():
                logps = completion_logps(model, r)
                out = policy_loss(
                    logps,
                    r.old_logps,
                    r.advantages,
                    r.loss_mask,
                    loss_type=self.t.loss_type,
                    epsilon=self.t.epsilon,
                    epsilon_high=self.t.epsilon_high,
                    beta=self.t.beta,
                    ref_logps=r.ref_logps,
                    max_completion_length=self.t.max_new_tokens,
                    batch_tokens=batch_tokens,
                )
            # grpo, bnpo and dr_grpo average per micro-batch (TRL divides by the accumulation steps);
            # dapo's denominator is already the whole window's tokens
            loss = out.loss if self.t.loss_type == "dapo" else out.loss / len(rollouts)
            acc.backward(loss)
            loss_sum += float(loss.detach())
            self._add("clip_ratio/low", out.clipped_low)
            self._add("clip_ratio/high", out.clipped_high)
            if out.kl is not None:
                self._add("kl", out.kl)
        if not torch.isfinite(torch.tensor(loss_sum)):
            from lmforge.errors import RunFailed

            raise RunFailed(f"grpo loss is {loss_sum} at step {run.state.step + 1}; training stopped")
        if self.t.max_grad_norm:
            acc.clip_grad_norm_(model.parameters(), self.t.max_grad_norm)
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        return loss_sum

    # ---------------------------------------------------------------- sampling and scoring
    @torch.no_grad()
    def rollout(self, run: Any, examples: list[dict[str, Any]]) -> Rollout:
        t, model, g = self.t, run.model, self.t.num_generations
        prompts = [e["input_ids"] for e in examples for _ in range(g)]  # each prompt's group adjacent
        ids, mask = left_pad(prompts, run.pad_id)
        device = run.accelerator.device
        was_training = model.training
        model.eval()
        with run.accelerator.autocast(), sampling_attention(model):
            cache = shared_prefill(model, [e["input_ids"] for e in examples], g, run.pad_id, device)
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                past_key_values=cache,
                max_new_tokens=t.max_new_tokens,
                do_sample=True,
                temperature=t.temperature,
                top_p=t.top_p,
                top_k=None,
                eos_token_id=self.stops,
                pad_token_id=run.pad_id,
                use_cache=True,
            )
        model.train(was_training)
        completions = out[:, ids.shape[1] :].cpu()
        valid, finished = completion_masks(completions, self.stops)
        loss_mask = valid * finished[:, None] if t.mask_truncated else valid.clone()
        r = Rollout(prompts, completions, valid, loss_mask)
        r.advantages = self.advantages(run, examples, r, finished)
        if t.num_iterations > 1:
            with run.accelerator.autocast():
                r.old_logps = completion_logps(model, r)
        if t.beta:
            with run.accelerator.autocast(), model.disable_adapter():
                r.ref_logps = completion_logps(model, r)
        return r

    def advantages(
        self, run: Any, examples: list[dict[str, Any]], r: Rollout, finished: torch.Tensor
    ) -> torch.Tensor:
        g = self.t.num_generations
        records = [json.loads(e["rl_record"]) for e in examples for _ in range(g)]
        lengths = r.valid.sum(1).tolist()
        ids = [row[:n] for row, n in zip(r.completions.tolist(), lengths, strict=True)]
        texts = run.tokenizer.batch_decode(ids, skip_special_tokens=True)
        chat = isinstance(records[0]["prompt"], list)
        completions = [[{"role": "assistant", "content": x}] for x in texts] if chat else texts
        names = {k for rec in records for k in rec["columns"]}
        columns = {k: [rec["columns"].get(k) for rec in records] for k in sorted(names)}
        per_func = score(self.rewards, [rec["prompt"] for rec in records], completions, columns, ids)
        adv = group_advantages(per_func, self.weights, g, self.t.scale_rewards)
        for j, reward in enumerate(self.rewards):
            col = per_func[:, j]
            if (~torch.isnan(col)).any():
                self._add(f"rewards/{reward.name}/mean", float(torch.nanmean(col)))
        self._add(
            "reward", float(torch.nanmean(adv.rewards)) if (~torch.isnan(adv.rewards)).any() else float("nan")
        )
        self._add("completion_length", float(r.valid.sum(1).float().mean()))
        self._add("truncated_share", float(1 - finished.float().mean()))
        self._add("zero_std_share", float(adv.std_is_zero.float().mean()))
        return adv.advantages

    # ---------------------------------------------------------------- metrics rows
    def _add(self, key: str, value: float) -> None:
        self.stats.setdefault(key, []).append(value)

    def stats_row(self) -> dict[str, float]:
        """Means since the last row (metrics.jsonl), then reset."""
        row = {k: round(sum(v) / len(v), 6) for k, v in self.stats.items() if v}
        self.stats = {}
        return row


def stat_keys(t: Any) -> list[str]:
    """The metrics.jsonl keys a grpo run adds (training/metrics_log.py: one schema for every row)."""
    names = [s if isinstance(s, str) else str(s.get("name", "")) for s in t.rewards]
    keys = ["reward", *(f"rewards/{n}/mean" for n in names), "completion_length", "truncated_share"]
    keys += ["zero_std_share", "clip_ratio/low", "clip_ratio/high", *(["kl"] if t.beta else [])]
    return [*keys, "time/generate_s", "time/update_s"]


def completion_masks(completions: torch.Tensor, stops: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, C) ids -> (valid (R, C): through the first stop token, finished (R,): a stop token came).

    >>> completion_masks(torch.tensor([[5, 2, 0], [5, 6, 7]]), [2])
    (tensor([[1, 1, 0],
            [1, 1, 1]]), tensor([ True, False]))
    """
    is_stop = torch.isin(completions, torch.tensor(stops, dtype=completions.dtype))
    finished = is_stop.any(1)
    first = torch.where(
        finished,
        is_stop.int().argmax(1),
        torch.full_like(finished, completions.shape[1] - 1, dtype=torch.long),
    )
    valid = (torch.arange(completions.shape[1])[None] <= first[:, None]).long()
    return valid, finished


def completion_logps(model: Any, r: Rollout) -> torch.Tensor:
    """(R, C) log-probs of the completion tokens under `model` (0 where not valid)."""
    lengths = r.valid.sum(1).tolist()
    rows = [(p + c[:n], len(p)) for p, c, n in zip(r.prompts, r.completions.tolist(), lengths, strict=True)]
    padded = _rows(rows, 0)  # labels: the completion tokens; the pad id is masked out, any id does
    input_ids, labels, mask = padded["input_ids"], padded["labels"], padded["attention_mask"]
    device = next(model.parameters()).device
    batch = {
        "input_ids": input_ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }
    backbone, head = split_head(model)
    if backbone is None:
        logits = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
        ).logits
        keep = labels[:, 1:] != IGNORE
        token_logps = -torch.nn.functional.cross_entropy(
            logits[:, :-1][keep].float(), labels[:, 1:][keep], reduction="none"
        )
    else:
        hidden, targets, _ = _answer_hidden(model, backbone, batch)
        token_logps = head.logps(hidden, targets)
    out = torch.zeros(r.valid.shape, dtype=token_logps.dtype, device=token_logps.device)
    out[r.valid.bool().to(out.device)] = (
        token_logps  # row order, positions ascending: as _answer_hidden reads them
    )
    return out


def shared_prefill(model: Any, prompts: list[list[int]], g: int, pad_id: int, device: Any) -> Any:
    """A KV cache of every prompt but its last token, computed once per prompt and repeated for its `g` rows.

    The rows of a group share their prompt: prefilling it once instead of `g` times (TRL's sampler does) cuts
    the prefill by (g - 1) / g. Padded like `left_pad` of the whole prompts, so `generate` runs only the last
    prompt token and the completions. None (generate prefills) where a prompt is a single token.
    """
    from transformers import DynamicCache

    if min(len(p) for p in prompts) < 2:
        return None
    ids, mask = left_pad([p[:-1] for p in prompts], pad_id)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)  # as generate numbers left-padded rows
    cache = DynamicCache()
    backbone, _ = split_head(model)  # the hidden states are not needed, only the cache
    (backbone or model)(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=position_ids.to(device),
        past_key_values=cache,
        use_cache=True,
    )
    cache.batch_repeat_interleave(g)
    return cache


@contextmanager
def sampling_attention(model: Any):
    """SDPA while sampling: lmforge's packed-document attention is for training rows, not a KV cache."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    before = getattr(base.config, "_attn_implementation", None)
    switch = before == "lmforge_docs"
    if switch:
        base.set_attn_implementation("sdpa")
    try:
        yield
    finally:
        if switch:
            base.set_attn_implementation(before)
