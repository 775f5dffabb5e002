"""Preference pairs for the DPO benchmark, their token counts, and one val DPO loss for every trained model.

Pairs are support-desk questions with a helpful step-by-step answer (chosen) and an unhelpful one that
talks about another topic (rejected). Both answers have the same log-normal length spread (median ~5
sentences, at most 12), drawn independently, so length alone does not tell them apart.

>>> pairs = preference_pairs(3, seed=0); sorted(pairs[0])
['chosen', 'prompt', 'rejected']
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import TOPICS, sentence


def _n_sentences(r: random.Random) -> int:
    return max(1, min(12, int(r.lognormvariate(1.6, 0.6))))


def preference_pairs(n: int, seed: int = 0) -> list[dict[str, str]]:
    """n seeded {prompt, chosen, rejected} records (prepared-record fields of task.type preference)."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        topic = r.choice(TOPICS)
        other = r.choice([t for t in TOPICS if t != topic])
        prompt = f"I have a question about {topic}. " + " ".join(sentence(r) for _ in range(r.randint(1, 3)))
        steps = [f"Step {k + 1}: {sentence(r)}" for k in range(_n_sentences(r))]
        chosen = (
            f"Thanks for asking about {topic}. Here is what to do.\n"
            + "\n".join(steps)
            + f"\nThat should fix your problem with {topic}."
        )
        rambling = [sentence(r) for _ in range(_n_sentences(r))]
        rejected = f"Not sure, but here is something about {other} instead.\n" + "\n".join(rambling)
        out.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return out


def read_pairs(data: str | Path, split: str) -> list[dict[str, Any]]:
    with open(Path(data) / f"{split}.jsonl") as f:
        return [json.loads(line) for line in f]


def pair_tokens(tok: Any, rec: dict[str, Any]) -> tuple[list[int], list[int], list[int]]:
    """(prompt ids, chosen ids, rejected ids): the chat template's prompt with the generation prompt, each
    answer the tokens after it through the end-of-turn token (what lmforge trains; TRL's conversational
    path also keeps the template's newline after it)."""
    user = [{"role": "user", "content": rec["prompt"]}]
    prompt = tok.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    answers = []
    for side in ("chosen", "rejected"):
        full = tok.apply_chat_template([*user, {"role": "assistant", "content": rec[side]}], tokenize=False)
        ids = tok(full, add_special_tokens=False)["input_ids"][len(p_ids) :]
        eos = tok.eos_token_id
        answers.append(ids[: ids.index(eos) + 1] if eos in ids else ids)
    return p_ids, answers[0], answers[1]


def token_stats(tok: Any, recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Token counts of the pairs as lmforge renders them: per-pair prompt + chosen + prompt + rejected."""
    toks = [pair_tokens(tok, r) for r in recs]
    longest = sorted(len(p) + max(len(c), len(j)) for p, c, j in toks)
    return {
        "prompt_tokens": sum(len(p) for p, _, _ in toks),
        "answer_tokens": sum(len(c) + len(j) for _, c, j in toks),
        "pair_tokens_mean": sum(2 * len(p) + len(c) + len(j) for p, c, j in toks) / len(toks),
        "longest_side_p10_p50_p90_max": [longest[len(longest) * q // 10] for q in (1, 5, 9)] + [longest[-1]],
    }


def _logps(model: Any, tok: Any, toks: list[tuple[list[int], list[int], list[int]]]) -> list[float]:
    """Summed answer log-probs, [chosen..., rejected...] of the batch, one padded forward."""
    import torch

    rows = [(p + c, len(p)) for p, c, _ in toks] + [(p + j, len(p)) for p, _, j in toks]
    width = max(len(ids) for ids, _ in rows)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.tensor([r + [pad] * (width - len(r)) for r, _ in rows])
    att = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _ in rows])
    logits = model(input_ids=ids, attention_mask=att).logits  # (2B, T, V), bf16 under autocast
    out = []
    for i, (r, p) in enumerate(rows):  # fp32 log-softmax one row's answer positions at a time (memory)
        lp = torch.log_softmax(logits[i, p - 1 : len(r) - 1].float(), -1)  # (answer, V)
        out.append(float(lp.gather(-1, ids[i, p : len(r)].unsqueeze(-1)).sum()))
    return out


def val_dpo_loss(model: Any, p: dict[str, Any], batch: int = 4) -> dict[str, float]:
    """Mean DPO loss (sigmoid, beta) of the val pairs: policy = the peft model, reference = its adapter
    disabled; the same function, batches and bf16 autocast for every side. Returns mean and the per-pair
    losses' standard error; the reference log-probs (the base model's) are cached in the work folder."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(p["model_dir"])
    toks = [pair_tokens(tok, r) for r in read_pairs(p["data"], "val")]
    cache = Path(p["work"]) / "val_reference_logps.json"
    model.eval()
    pol, ref = [], json.loads(cache.read_text()) if cache.exists() else None
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        chunks = [toks[i : i + batch] for i in range(0, len(toks), batch)]
        pol = [_logps(model, tok, c) for c in chunks]
        if ref is None:
            with model.disable_adapter():
                ref = [_logps(model, tok, c) for c in chunks]
            cache.write_text(json.dumps(ref))
    losses = []
    for pc, rc in zip(pol, ref, strict=True):
        b = len(pc) // 2
        for i in range(b):
            delta = (pc[i] - rc[i]) - (pc[b + i] - rc[b + i])
            losses.append(float(-F.logsigmoid(torch.tensor(p["beta"] * delta))))
    mean = sum(losses) / len(losses)
    sd = math.sqrt(sum((x - mean) ** 2 for x in losses) / max(len(losses) - 1, 1))
    return {"val_loss": mean, "val_loss_se": sd / math.sqrt(len(losses)), "val_losses": losses}


def make_data(work: Path, n_train: int, n_val: int, model_dir: str, p: dict[str, Any]) -> dict[str, Any]:
    """Write train/val.jsonl (prepared records), lmforge's epoch-0 order, and the token counts."""
    from transformers import AutoTokenizer

    from lmforge.training.batches import epoch_batches

    data = work / "data"
    shutil.rmtree(work, ignore_errors=True)
    data.mkdir(parents=True)
    recs = preference_pairs(n_train + n_val, seed=p["seed"])
    for split, part in (("train", recs[:n_train]), ("val", recs[n_train:])):
        with (data / f"{split}.jsonl").open("w") as f:
            for i, r in enumerate(part):
                f.write(json.dumps({**r, "id": f"bench/{split}.jsonl:{i + 1}", "meta": {}}) + "\n")
    tok = AutoTokenizer.from_pretrained(model_dir)
    order = [i for b in epoch_batches(n_train, p["batch"], p["seed"], 0) for i in b]
    trained = [recs[i] for i in order[: p["steps"] * p["batch"]]]
    stats = token_stats(tok, trained)
    if stats["longest_side_p10_p50_p90_max"][-1] > p["max_len"]:
        raise SystemExit(f"a trained pair is longer than max_len {p['max_len']}: the sides would truncate")
    answers = sum(len(c) + len(j) for _, c, j in (pair_tokens(tok, r) for r in trained))
    return {"data": str(data), "order": order, "answer_tokens_trained": answers, **stats}


def same_loss(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Paired difference of the per-pair val losses of two models and its standard error."""
    d = [x - y for x, y in zip(a["val_losses"], b["val_losses"], strict=True)]
    mean = sum(d) / len(d)
    se = (sum((x - mean) ** 2 for x in d) / max(len(d) - 1, 1)) ** 0.5 / len(d) ** 0.5
    return {"diff": mean, "se": se, "within_2se": abs(mean) <= 2 * se}


def fresh_copy(p: dict[str, Any], who: str) -> Path:
    """A private copy of the train split (no val: lmforge would evaluate it inside the run)."""
    out = Path(p["work"]) / who
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    shutil.copy(Path(p["data"]) / "train.jsonl", out / "data" / "train.jsonl")
    return out


def describe(p: dict[str, Any], s: dict[str, Any], runs: dict[str, Any], reps: int) -> str:
    """The notes cell of the RESULTS.md row: what each number is computed on, then each side's numbers."""
    timed = (p["steps"] - p["warmup"]) * p["batch"]
    head = (
        f"{p['steps']} steps x {p['batch']} pairs (pairs/s over the last {timed} pairs, after {p['warmup']} "
        f"warm-up steps), {reps} reps, {p['threads']} threads; trained pairs: "
        f"{p['answer_tokens_trained']} answer tokens, {p['pair_tokens_mean']:.0f} tokens per pair "
        f"(prompt twice + both answers), longest side p10/p50/p90/max {p['longest_side_p10_p50_p90_max']}; "
        f"val DPO loss on {p['n_val']} held-out pairs; "
    )
    return head + "; ".join(
        f"{v}: {harness.fmt(s[v]['pairs_per_s'])} pairs/s, train RSS {s[v]['train_maxrss_mb']['median']:.0f} MB, "
        f"train loss (last {p['loss_tail']}) {s[v]['train_loss_tail']['median']:.4f}, "
        f"val loss {s[v]['val_loss']['median']:.4f} +- {runs[v][0]['val_loss_se']:.4f}, "
        f"answer tokens {runs[v][0]['answer_tokens_trained']}"
        for v in runs
    )
