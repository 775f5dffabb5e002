"""`lmforge eval` of `task.type: rl`: the run's reward functions on completions of the held-out prompts.

Base and fine-tuned get the same prompts, tokenised as training tokenised them (tasks/rl.py), and their
completions are scored by `train.rewards` and `train.reward_weights` through training/rewards.py, the
functions training used, on the text and ids training would have given them:
- one greedy completion per prompt (`train.max_new_tokens` long): `reward`, the mean weighted reward;
  `reward/<function>`, each function's mean where it scored; `pass_rate`, the share that pass (below);
- with `eval.num_samples` = n > 1, n completions per prompt sampled at `train.temperature` / `top_p`:
  `pass@k` for k = 1, 2, 4, ... and n, by the unbiased estimator of Chen et al. 2021 (`pass_at_k`).
A completion passes when every function of positive weight that scored it gave its best value (BEST: 1,
0 for the `length` penalty; a user function's best is 1, the range TRL's reward functions keep to).
Every metric has its `n_` count: the prompts (pass@k) or completions behind it; a completion that no
function scored counts in none.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import torch

from lmforge.config import ExperimentConfig
from lmforge.errors import UserError
from lmforge.evaluation.batching import inference
from lmforge.evaluation.generating import generate_sorted
from lmforge.evaluation.loading import autocast_dtype, eval_inputs, load_base, load_trained, ready_for_eval
from lmforge.inference.generation import Generation
from lmforge.tasks import Task
from lmforge.training.grpo_loss import group_advantages
from lmforge.training.rewards import Reward, load_rewards, score

BEST = {"length": 0.0}  # a function's best value where it is not 1: no length penalty
SAMPLES_SHOWN = 8  # prompts kept in samples.jsonl for the report


def evaluate_rl(
    cfg: ExperimentConfig, model_dir: str | None = None, split: str | None = None, compare: bool = True
) -> dict[str, Any]:
    """Reward metrics of base and fine-tuned on `split`'s prompts; writes eval.json and samples.jsonl.

    >>> lmforge.evaluate(cfg)["finetuned"]["reward"]  # doctest: +SKIP
    0.875
    """
    from lmforge.formatting.token_cache import make_task

    split, records, tuned_path = eval_inputs(cfg, model_dir, split)
    rewards = load_rewards(cfg.train.rewards, cfg.base_dir)  # a missing file fails before a model loads
    if not rewards:
        raise UserError("lmforge eval of task.type: rl needs train.rewards: the functions that score answers")
    weights = torch.tensor(cfg.train.reward_weights or [1.0] * len(rewards))
    task = make_task(cfg)
    if cfg.eval.generate_n is not None and cfg.eval.generate_n < len(records):  # as the other tasks pick
        records = [
            records[i]
            for i in sorted(random.Random(cfg.seed).sample(range(len(records)), cfg.eval.generate_n))
        ]
    loaders = {"base": lambda: load_base(cfg, task), "finetuned": lambda: load_trained(tuned_path, cfg, task)}
    metrics: dict[str, dict[str, float]] = {"base": {}, "finetuned": {}}
    shown: dict[str, list[dict[str, Any]]] = {}
    dtype = autocast_dtype(cfg)
    for side in ("base", "finetuned") if compare else ("finetuned",):
        model, tokenizer = loaders[side]()
        model = ready_for_eval(model, dtype, quantized=cfg.model.quantize is not None)
        with inference(next(model.parameters()).device.type, dtype):
            metrics[side], shown[side] = side_scores(cfg, task, model, tokenizer, records, rewards, weights)
        del model
    out = {
        "split": split,
        "records": len(records),
        "base": metrics["base"],
        "finetuned": metrics["finetuned"],
        "delta": {
            k: v - metrics["base"][k]
            for k, v in metrics["finetuned"].items()
            if k in metrics["base"] and not k.startswith("n_")
        },
        "details": {},
        "model": str(tuned_path),
    }
    run_dir = Path(cfg.train.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "eval.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    write_samples(run_dir / "samples.jsonl", shown)
    from lmforge.training.trackers import log_eval

    log_eval(cfg, out)
    return out


def side_scores(
    cfg: ExperimentConfig,
    task: Task,
    model: Any,
    tokenizer: Any,
    records: list[dict],
    rewards: list[Reward],
    weights: torch.Tensor,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """One model's reward metrics, and its first greedy completions with their rewards (samples.jsonl)."""
    t, n = cfg.train, cfg.eval.num_samples
    examples = [e for e in task.encode_batch(records, tokenizer, t.max_seq_len)[0] if e is not None]
    if not examples:
        raise UserError(f"no held-out prompt fits train.max_seq_len ({t.max_seq_len} tokens)")
    rl = [json.loads(e["rl_record"]) for e in examples]
    prompts = [e["input_ids"] for e in examples]
    greedy = generate_sorted(cfg, model, tokenizer, prompts, max_new_tokens=t.max_new_tokens)
    per_func, texts = score_completions(tokenizer, rewards, rl, greedy)
    metrics = reward_metrics(rewards, weights, per_func)
    if n > 1:
        torch.manual_seed(cfg.seed)  # the same draws for both models, and from one eval to the next
        many = [p for p in prompts for _ in range(n)]  # each prompt's samples adjacent
        sampled = generate_sorted(
            cfg,
            model,
            tokenizer,
            many,
            max_new_tokens=t.max_new_tokens,
            temperature=t.temperature,
            top_p=t.top_p,
        )
        sampled_scores, _ = score_completions(tokenizer, rewards, [r for r in rl for _ in range(n)], sampled)
        metrics.update(pass_at_k_metrics(passes(rewards, weights, sampled_scores), n))
    reward = group_advantages(per_func, weights, 1, "none").rewards
    rows = [
        {"prompt": r["prompt"], "reference": r["columns"], "text": text, "reward": _number(float(x))}
        for r, text, x in zip(rl[:SAMPLES_SHOWN], texts, reward.tolist(), strict=False)
    ]
    return metrics, rows


def score_completions(
    tokenizer: Any, rewards: list[Reward], rl: list[dict[str, Any]], gens: list[Generation]
) -> tuple[torch.Tensor, list[str]]:
    """(N, F) rewards of N completions (NaN: not scored) and their texts, as training's rollout gives them:
    text decoded without special tokens, ids through the EOS that ended them (training/grpo.py)."""
    stop = tokenizer.eos_token_id
    ids = [g.ids + ([stop] if g.finished and stop is not None else []) for g in gens]
    texts = tokenizer.batch_decode([g.ids for g in gens], skip_special_tokens=True)
    chat = isinstance(rl[0]["prompt"], list)
    completions = [[{"role": "assistant", "content": x}] for x in texts] if chat else texts
    names = sorted({k for r in rl for k in r["columns"]})
    columns = {k: [r["columns"].get(k) for r in rl] for k in names}
    return score(rewards, [r["prompt"] for r in rl], completions, columns, ids), texts


def reward_metrics(rewards: list[Reward], weights: torch.Tensor, per_func: torch.Tensor) -> dict[str, float]:
    """`reward`, `reward/<function>` and `pass_rate` of one completion per prompt, each with its n_.

    >>> m = reward_metrics([Reward("format", None)], torch.ones(1), torch.tensor([[1.0], [0.0]]))
    >>> m["reward"], m["n_reward"], m["pass_rate"]
    (0.5, 2, 0.5)
    """
    reward = group_advantages(per_func, weights, 1, "none").rewards  # the weighted sum, as training's
    out: dict[str, float] = {}
    _mean(out, "reward", reward)
    for j, r in enumerate(rewards):
        _mean(out, f"reward/{r.name}", per_func[:, j])
    ok = passes(rewards, weights, per_func)
    _mean(out, "pass_rate", ok.float().masked_fill(torch.isnan(reward), math.nan))
    return out


def passes(rewards: list[Reward], weights: torch.Tensor, per_func: torch.Tensor) -> torch.Tensor:
    """(N,) bool: every function of positive weight that scored the completion gave its best value.

    >>> passes([Reward("format", None), Reward("length", None)], torch.ones(2),
    ...        torch.tensor([[1.0, 0.0], [1.0, -0.5], [float("nan"), 0.0]]))
    tensor([ True, False,  True])
    """
    best = torch.tensor([BEST.get(r.name, 1.0) for r in rewards])
    at_best = torch.isnan(per_func) | (per_func >= best - 1e-6)
    return at_best[:, weights > 0].all(dim=1) & ~torch.isnan(per_func).all(dim=1)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that k of n completions, c of which pass, drawn without replacement hold one that passes:
    1 - C(n-c, k) / C(n, k), the unbiased pass@k estimator (Chen et al. 2021), in exact integers.

    >>> pass_at_k(4, 1, 2), pass_at_k(4, 0, 4), pass_at_k(4, 3, 2)
    (0.5, 0.0, 1.0)
    """
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_ks(n: int) -> list[int]:
    """k = powers of two below n, and n.

    >>> pass_ks(8), pass_ks(10), pass_ks(1)
    ([1, 2, 4, 8], [1, 2, 4, 8, 10], [1])
    """
    return [k for k in (2**i for i in range(n.bit_length())) if k < n] + [n]


def pass_at_k_metrics(passed: torch.Tensor, n: int) -> dict[str, float]:
    """`pass@k` for each k of pass_ks(n), the mean over prompts of pass_at_k(n, c, k), from (P x n,) passes.

    A sample that no function scored counts as one that fails; n_pass@k is the number of prompts.
    """
    counts = passed.view(-1, n).sum(dim=1).tolist()
    out: dict[str, float] = {}
    for k in pass_ks(n):
        out[f"pass@{k}"] = sum(pass_at_k(n, c, k) for c in counts) / len(counts)
        out[f"n_pass@{k}"] = len(counts)
    return out


def write_samples(path: Path, shown: dict[str, list[dict[str, Any]]]) -> None:
    """A few prompts with each model's greedy completion and its reward, and the reward columns."""
    first = shown.get("base") or shown.get("finetuned") or []
    with path.open("w", encoding="utf-8") as f:
        for j, row in enumerate(first):
            out = {"prompt": row["prompt"], "reference": _columns_text(row["reference"])}
            for side in ("base", "finetuned"):
                if j < len(shown.get(side, [])):
                    out[side] = shown[side][j]["text"]
                    out[f"{side}_reward"] = shown[side][j]["reward"]
            f.write(json.dumps(out, ensure_ascii=False) + "\n")


def _columns_text(columns: dict[str, Any]) -> str:
    """What the reward functions saw beyond the prompt, one `field: value` per line.

    >>> _columns_text({"answer": 12})
    'answer: 12'
    """
    return "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in columns.items())


def _mean(out: dict[str, float], name: str, values: torch.Tensor) -> None:
    scored = ~torch.isnan(values)
    out[name] = float(values[scored].mean()) if scored.any() else math.nan
    out[f"n_{name}"] = int(scored.sum())


def _number(x: float) -> float | None:
    return None if math.isnan(x) else x
