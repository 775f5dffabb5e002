"""GRPO with LoRA: `lmforge train` (train.objective grpo) vs TRL's GRPOTrainer (use_vllm=False), same prompts.

Both sides: the same arithmetic prompts ("What is 17 + 25? ...", as chat messages through the model's chat
template) in the same order (TRL gets lmforge's epoch order, shuffle_dataset off), P prompts x G completions
per optimizer step sampled with the same max_new_tokens, temperature, top_p (top_k off), the same two
reward functions (this module's, TRL's signature: a well-formed <answer>N</answer>, the right number;
weights 0.5 / 0.5), LoRA r 16 / alpha 32 / dropout 0.05 on all linear layers, fp32, loss dapo, beta 0,
one update per generation batch (num_iterations 1, TRL's steps_per_generation 1: the P x G completions
are one micro-batch on both sides), AdamW, lr 1e-5 linear without warmup, clip 1.0, no gradient
checkpointing, no saving or evaluation inside the run, the same torch threads.

Measured per run, in its own process: prompts/s over the steps after `warmup` (from the end of step
`warmup` to the end of the last, by a per-step callback on each side), peak RSS of the training
(ru_maxrss), and where a step's time goes: sampling (lmforge: time/generate_s in metrics.jsonl; TRL: its
`_generate_and_score_completions`, timed by a wrapper; both include scoring) vs the update (the rest of the
step: log-probs, loss, backward, optimizer). Tokens are counted on each side: sampled completion tokens
(through the first end-of-turn), generated positions (rows x the longest completion: what a batched
sampler pays for) and prompt tokens, so the sampling work can be compared.

    python -m bench.grpo --steps 8 --prompts 4 --generations 8 --max-new-tokens 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.grpo_data import answer_reward, describe, format_reward, fresh_copy, make_data


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    import torch

    import lmforge
    from lmforge.config import ExperimentConfig

    torch.set_num_threads(p["threads"])
    out = fresh_copy(p, "lmforge")
    train = {
        "output_dir": str(out / "run"),
        "objective": "grpo",
        "rewards": ["bench.grpo_data:format_reward", "bench.grpo_data:answer_reward"],
        "reward_weights": [0.5, 0.5],
        "num_generations": p["generations"],
        "max_new_tokens": p["max_new_tokens"],
        "temperature": p["temperature"],
        "top_p": p["top_p"],
        "loss_type": "dapo",
        "beta": 0.0,
        "batch_size": p["prompts"],
        "max_steps": p["steps"],
        "lr": p["lr"],
        "scheduler": "linear",
        "warmup_steps": 0,
        "max_grad_norm": 1.0,
        "max_seq_len": 512,
        "precision": "fp32",
        "gradient_checkpointing": False,
        "eval_every": 0,
        "save_every": 10**6,
        "log_every": 1,
        "early_stopping": None,
        "report_to": [],
    }
    cfg = ExperimentConfig.model_validate(
        {
            "name": "bench-grpo",
            "seed": p["seed"],
            "task": {"type": "rl"},
            "model": {"name": p["model"], "lora": harness.lora_config()},
            "data": {"output_dir": str(out / "data"), "workers": 1},
            "train": train,
        }
    )
    ends: list[float] = []
    tokens: list[dict[str, int]] = []

    def after_step(run: Any, row: dict[str, Any]) -> None:
        ends.append(time.perf_counter())
        rs = run.grpo.last
        tokens.append(
            {
                "completion": sum(int(r.valid.sum()) for r in rs),
                "positions": sum(r.completions.numel() for r in rs),
                "prompt": sum(len(q) for r in rs for q in r.prompts),
            }
        )

    t0 = time.perf_counter()
    lmforge.train(cfg, callbacks=[after_step])
    secs = time.perf_counter() - t0
    rows = [json.loads(x) for x in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("time/generate_s") is not None]
    gen = [r["time/generate_s"] for r in rows]
    update = [r["time/update_s"] for r in rows]
    rewards = [r["reward"] for r in rows]
    return _result(p, secs, ends, gen, update, tokens, rewards)


def run_trl(p: dict[str, Any]) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(p["threads"])
    out = fresh_copy(p, "trl")
    recs = [json.loads(x) for x in (out / "data" / "train.jsonl").read_text().splitlines()]
    ds = Dataset.from_list(
        [{"prompt": recs[i]["messages"], "answer": recs[i]["meta"]["extra"]["answer"]} for i in p["order"]]
    )
    args = GRPOConfig(
        output_dir=str(out / "run"),
        per_device_train_batch_size=p["prompts"] * p["generations"],  # TRL counts completions
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=p["generations"],
        max_completion_length=p["max_new_tokens"],
        temperature=p["temperature"],
        top_p=p["top_p"],
        top_k=0,
        loss_type="dapo",
        beta=0.0,
        num_iterations=1,
        reward_weights=[0.5, 0.5],
        max_steps=p["steps"],
        learning_rate=p["lr"],
        lr_scheduler_type="linear",
        warmup_steps=0,
        max_grad_norm=1.0,
        gradient_checkpointing=False,
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        shuffle_dataset=False,
        dataloader_num_workers=0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=p["seed"],
    )
    begins: list[float] = []
    ends: list[float] = []

    class StepTimes(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            begins.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kw):  # after the optimizer step
            ends.append(time.perf_counter())

    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(p["model_dir"], dtype=torch.float32)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[format_reward, answer_reward],
        args=args,
        train_dataset=ds,
        processing_class=AutoTokenizer.from_pretrained(p["model_dir"]),
        peft_config=harness.peft_lora_config(),
        callbacks=[StepTimes()],
    )
    gen: list[float] = []
    tokens: list[dict[str, int]] = []
    sample = trainer._generate_and_score_completions

    def timed(inputs):  # sampling + scoring, as lmforge's time/generate_s
        t = time.perf_counter()
        res = sample(inputs)
        gen.append(time.perf_counter() - t)
        tokens.append(
            {
                "completion": int(res["completion_mask"].sum()),
                "positions": int(res["completion_ids"].numel()),
                "prompt": int(res["prompt_mask"].sum()),
            }
        )
        return res

    trainer._generate_and_score_completions = timed
    trainer.train()
    secs = time.perf_counter() - t0
    update = [e - b - g for b, e, g in zip(begins, ends, gen, strict=True)]
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    return _result(p, secs, ends, gen, update, tokens, rewards)


VARIANTS = {"lmforge": run_lmforge, "trl_grpo": run_trl}


def _result(
    p: dict[str, Any],
    secs: float,
    ends: list[float],
    gen: list[float],
    update: list[float],
    tokens: list[dict[str, int]],
    rewards: list[float],
) -> dict[str, Any]:
    w = p["warmup"]
    timed = len(ends) - w
    span = ends[-1] - ends[w - 1] if timed > 0 and w > 0 else float("nan")
    after = slice(w, None)  # the timed steps

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else float("nan")

    return {
        "steps": len(ends),
        "seconds": secs,
        "prompts_per_s": timed * p["prompts"] / span,
        "step_s": span / timed,
        "generate_s": mean(gen[after]),
        "update_s": mean(update[after]),
        "completion_tokens_per_s": sum(t["completion"] for t in tokens[after]) / span,
        "completion_tokens": sum(t["completion"] for t in tokens),
        "generated_positions": sum(t["positions"] for t in tokens),
        "prompt_tokens": sum(t["prompt"] for t in tokens),
        "reward_mean": mean(rewards),
        "train_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "trained_at": time.time(),
    }


def bench_grpo(
    model: str,
    reps: int,
    work: Path,
    steps: int = 8,
    prompts: int = 4,
    generations: int = 8,
    max_new_tokens: int = 64,
    warmup: int = 1,
    variants: list[str] | None = None,
    smoke: bool = False,
) -> dict[str, Any]:
    import torch

    from lmforge.models import resolve_model

    params: dict[str, Any] = {
        "model": model,
        "model_dir": resolve_model(model),
        "work": str(work),
        "steps": steps,
        "prompts": prompts,
        "generations": generations,
        "max_new_tokens": max_new_tokens,
        "temperature": 1.0,
        "top_p": 1.0,
        "lr": 1e-5,
        "warmup": warmup,  # steps left out of prompts/s (first allocations, lazy initialisation)
        "seed": 0,
        "threads": torch.get_num_threads(),
        "lora": harness.lora_config(),
        "load_before": list(os.getloadavg()),
        "smoke": smoke,
    }
    params.update(make_data(work, params))
    variants = variants or list(VARIANTS)
    runs = harness.interleave("grpo", variants, params, reps)
    params["load_after"] = list(os.getloadavg())
    keys = (
        "prompts_per_s",
        "step_s",
        "generate_s",
        "update_s",
        "completion_tokens_per_s",
        "train_maxrss_mb",
        "train_peak_rss_mb",
        "seconds",
        "reward_mean",
    )
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()
    }
    targets = []
    if {"lmforge", "trl_grpo"} <= set(runs):
        speed = harness.paired_ratio(runs, "prompts_per_s", "lmforge", "trl_grpo")
        rss = harness.paired_ratio(runs, "train_peak_rss_mb", "lmforge", "trl_grpo")
        for k in ("generate_s", "update_s", "completion_tokens_per_s"):
            summary[f"{k}_vs_trl_grpo"] = harness.paired_ratio(runs, k, "lmforge", "trl_grpo")
        summary.update(speedup_vs_trl_grpo=speed, rss_vs_trl_grpo=rss)
        targets += [
            ("prompts/s vs trl_grpo", ">= 2x", speed, speed["median"] >= 2.0),
            ("peak RSS vs trl_grpo", "<= 0.7x", rss, rss["median"] <= 0.7),
        ]
    harness.save("grpo", params, runs, summary, targets, describe(params, summary, runs, reps))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--variants", nargs="*", default=None, choices=list(VARIANTS))
    ap.add_argument("--work", default="runs/bench/grpo")
    a = ap.parse_args()
    s = bench_grpo(
        a.model,
        a.reps,
        Path(a.work).resolve(),
        a.steps,
        a.prompts,
        a.generations,
        a.max_new_tokens,
        variants=a.variants,
    )
    print(json.dumps(s, indent=1, default=str))


if __name__ == "__main__":
    main()
