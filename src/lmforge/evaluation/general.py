"""General-ability probes: what a fine-tune may have lost outside the user's task (catastrophic forgetting).

`lmforge eval` scores base and fine-tuned on probes that ship with lmforge (probes/, built by
scripts/build_probes.py, sources and licenses in probes/NOTICE.md), not on the user's data:
- `general_mc_acc`, `general_mc_acc_norm`: 200 WordNet "Which word means ...?" items, 4 choices, scored
  as lm-eval scores multiple choice: the summed log-probability of each choice's tokens after the question
  (acc), and that sum over the choice's length in characters (acc_norm);
- `general_ppl`: token-weighted perplexity of 80 prose paragraphs of the Python documentation;
- `general_kl`: mean KL(fine-tuned || base) of the next-token distributions at up to KL_POSITIONS
  positions of each paragraph, spread over it. The base pass keeps its log-probabilities there (fp16 on
  the CPU: 80 x 16 x vocabulary values, 126 MB for a 49k vocabulary); the fine-tuned pass compares its
  own, one batch at a time. The base's own `general_kl` is 0.

Each metric has its `n_<metric>` (items or paragraphs). `eval.max_general_drop` turns a drop beyond it
into exit 1 (check_drop); `eval.general: false` skips the probes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.errors import RunFailed
from lmforge.evaluation.batching import budget_batches, progress
from lmforge.evaluation.class_scores import tree_unit
from lmforge.evaluation.scoring import HEAD_CHUNK, IGNORE, Unit, collate_units, example_unit, score_units
from lmforge.models import pad_token_id
from lmforge.training.lm_head import split_head

PROBES = Path(__file__).parent / "probes"
KL_POSITIONS = 16  # per paragraph
HIGHER_IS_WORSE = ("general_ppl", "general_kl")
METRICS = ("general_mc_acc", "general_mc_acc_norm", "general_ppl", "general_kl")


def load_probes() -> tuple[list[dict], list[dict]]:
    """(multiple-choice items, prose paragraphs) as shipped."""

    def read(name: str) -> list[dict]:
        lines = (PROBES / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    return read("wordnet_mc.jsonl"), read("python_docs_prose.jsonl")


class GeneralProbes:
    """Scores one model after another; the first one scored (the base) is the KL's reference."""

    def __init__(self, batch_tokens: int, batch_size: int | None) -> None:
        self.budget = (batch_tokens, batch_size)
        self.items, self.passages = load_probes()
        self.reference: list[torch.Tensor] | None = None  # the base's log-probs at the KL positions

    def score(self, model: Any, tokenizer: Any) -> dict[str, float]:
        """The general_* metrics of one model (run it under batching.inference)."""
        out = mc_scores(model, tokenizer, self.items, *self.budget)
        nll, tokens, kl, positions = self._text(model, tokenizer)
        out.update({"general_ppl": math.exp(min(nll / tokens, 50.0)), "n_general_ppl": len(self.passages)})
        out.update({"general_kl": kl / positions, "n_general_kl": len(self.passages)})
        return out

    def _text(self, model: Any, tokenizer: Any) -> tuple[float, int, float, int]:
        """Summed NLL and token count of the paragraphs; summed KL against the reference and positions."""
        units = [example_unit({"input_ids": ids, "labels": ids}) for ids in self._passage_ids(tokenizer)]
        keep = self.reference is None
        stored: list[torch.Tensor] = []
        nll, tokens, kl, positions = 0.0, 0, 0.0, 0
        batches = budget_batches([len(u["input_ids"]) for u in units], *self.budget)
        with progress(len(units), "general text") as bar:
            for b, idx in enumerate(batches):
                part = [units[i] for i in idx]
                batch = collate_units(part, pad_token_id(tokenizer) or 0)
                at = kl_positions(part)
                logp_t, logp_at = next_token_logprobs(model, batch, at)
                nll -= float(logp_t.double().sum())
                tokens += len(logp_t)
                if keep:
                    stored.append(logp_at.clamp(min=-1e4).half())
                else:
                    ref = self.reference[b]  # same tokens, same batches: the base's rows line up
                    vocab = min(ref.shape[1], logp_at.shape[1])
                    mine = logp_at[:, :vocab]
                    # both rounded alike: a model against itself gives 0
                    diff = mine.clamp(min=-1e4).half().float() - ref[:, :vocab].float()
                    kl += float((mine.exp() * diff).sum(dim=1).double().sum())
                positions += len(at)
                bar.update(len(idx))
        if keep:
            self.reference = stored
        return nll, tokens, kl, positions

    def _passage_ids(self, tokenizer: Any) -> list[list[int]]:
        return [tokenizer(p["text"])["input_ids"] for p in self.passages]


def mc_scores(
    model: Any, tokenizer: Any, items: list[dict], batch_tokens: int, batch_size: int | None
) -> dict[str, float]:
    """acc and acc_norm (lm-eval's: log-likelihood, and over the choice's characters) of the items."""
    units: list[Unit] = []
    for item in items:  # one row per item: the question once, each choice a branch (class_scores.tree_unit)
        context = tokenizer(item["question"])["input_ids"]
        branches = []
        for choice in item["choices"]:
            whole = tokenizer(item["question"] + " " + choice)["input_ids"]
            # as lm-eval splits a request: the context's length off the whole, the rest is the choice
            branches.append({"input_ids": whole, "labels": [IGNORE] * len(context) + whole[len(context) :]})
        units.append(tree_unit(branches))
    scored = score_units(model, units, pad_token_id(tokenizer) or 0, batch_tokens, batch_size, "general mc")
    right = right_norm = 0
    for item, (sums, _) in zip(items, scored, strict=True):
        logps = sums + [0.0] * (len(item["choices"]) - len(sums))
        normed = [lp / len(c) for lp, c in zip(logps, item["choices"], strict=True)]
        right += max(range(len(logps)), key=logps.__getitem__) == item["answer"]
        right_norm += max(range(len(normed)), key=normed.__getitem__) == item["answer"]
    n = len(items)
    return {
        "general_mc_acc": right / n,
        "n_general_mc_acc": n,
        "general_mc_acc_norm": right_norm / n,
        "n_general_mc_acc_norm": n,
    }


def kl_positions(units: list[Unit]) -> torch.Tensor:
    """Indices into a batch's flattened scored positions: up to KL_POSITIONS per unit, evenly spread."""
    out, start = [], 0
    for u in units:
        n = len(u["pred"])
        stride = max(1, math.ceil(n / KL_POSITIONS))
        out += [start + k for k in range(0, n, stride)][:KL_POSITIONS]
        start += n
    return torch.tensor(out, dtype=torch.long)


def next_token_logprobs(model: Any, batch: dict, at: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p of each scored token (N,), full log-softmax at the positions `at` (K, V)), fp32 on the CPU.

    The head runs over about HEAD_CHUNK logits at a time; only the K kept rows of V values are returned.
    """
    device = next(model.parameters()).device
    inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "position_ids")}
    rows, cols, targets = (batch[k].to(device) for k in ("rows", "pred", "target"))
    backbone, head = split_head(model)
    if backbone is not None:
        hidden = backbone(**inputs, use_cache=False).last_hidden_state[rows, cols]
        logits_of = head
    else:  # the model's own head (an output transform lmforge's split does not know): one batch's logits
        hidden = model(**inputs, use_cache=False).logits[rows, cols]
        logits_of = None
    kept = torch.zeros(len(rows), dtype=torch.bool)
    kept[at] = True
    vocab = hidden.shape[1] if logits_of is None else head.weight.shape[0]
    step = max(1, HEAD_CHUNK // vocab)
    token_logp, full = [], []
    for i in range(0, len(rows), step):
        logits = hidden[i : i + step] if logits_of is None else logits_of(hidden[i : i + step])
        logp = F.log_softmax(logits.float(), dim=-1)
        token_logp.append(logp.gather(1, targets[i : i + step, None])[:, 0].cpu())
        full.append(logp[kept[i : i + step].to(logp.device)].cpu())
    return torch.cat(token_logp), torch.cat(full)


def check_drop(out: dict[str, Any], max_drop: float | None) -> None:
    """RunFailed naming each general metric that got worse by more than `max_drop` (absolute)."""
    if max_drop is None:
        return
    base, tuned, worse = out.get("base", {}), out.get("finetuned", {}), []
    for key in METRICS:
        if key not in base or key not in tuned:
            continue
        drop = tuned[key] - base[key] if key in HIGHER_IS_WORSE else base[key] - tuned[key]
        if drop > max_drop:
            worse.append(f"{key} {base[key]:.4f} -> {tuned[key]:.4f}")
    if worse:
        raise RunFailed(
            f"general ability dropped by more than eval.max_general_drop={max_drop}: " + ", ".join(worse)
        )
