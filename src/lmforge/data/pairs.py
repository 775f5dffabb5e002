"""`data.pairs`: preference pairs from SFT data, the quick way to a preference set.

With `data.pairs` set, prepare reads and cleans the sources as SFT records (prompt + response, alpaca
fields, or messages ending with the assistant), splits them, then turns each split's records into pairs:
the record's answer is `chosen`, and `rejected` is
- `other_record`: the answer of another record of the same split, drawn with a generator seeded by
  (seed, record id), never one with the same text (so nothing crosses from one split into another);
- `base_model`: what `data.pairs.model` (default `model.name`) writes for the prompt, through
  `lmforge.inference.generation.generate` (the chat template inference uses), batched, sampled with the
  experiment's seed, cached in `data.output_dir/.pairs/<fingerprint>.jsonl` per prompt, so a rerun with the
  same model and settings generates nothing again.
A record that gets no usable rejected answer (no other answer in its split, an empty generation, or one
equal to the chosen answer) goes to rejects.jsonl with step `pairs` and the reason; read = kept + rejected
still holds.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from lmforge.atomic_files import atomic_write_text

STEP = "pairs"


def to_pair(row: dict[str, Any]) -> dict[str, Any] | str:
    """An SFT record as a pair without its rejected answer, or the reason it cannot be one.

    >>> to_pair({"id": "a:1", "meta": {}, "prompt": "Hi", "response": "Hello!"})
    {'id': 'a:1', 'meta': {}, 'prompt': 'Hi', 'chosen': 'Hello!'}
    """
    out = {k: row[k] for k in ("id", "meta") if k in row}
    if row.get("system"):
        out["system"] = row["system"]
    if "messages" in row:
        turns = row["messages"]
        if not turns or turns[-1].get("role") != "assistant" or len(turns) < 2:
            return "the conversation does not end with an assistant answer after a user turn"
        return {**out, "messages": turns[:-1], "chosen": turns[-1]["content"]}
    if "instruction" in row:  # alpaca
        prompt = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        return {**out, "prompt": prompt, "chosen": row["output"]}
    return {**out, "prompt": row["prompt"], "chosen": row["response"]}


def other_record(pairs: list[dict[str, Any]], seed: int) -> list[str | None]:
    """For each pair, the chosen answer of another pair with a different text (None when there is none).

    Each pick depends on (seed, id) only, not on the order of the others' picks.
    >>> other_record([{"id": "a", "chosen": "x"}, {"id": "b", "chosen": "y"}], 0)
    ['y', 'x']
    """
    answers = [p["chosen"] for p in sorted(pairs, key=lambda p: str(p["id"]))]  # by id: order-free picks
    out: list[str | None] = []
    for p in pairs:
        rng = random.Random(f"{seed}:{p['id']}:pairs")
        own = p["chosen"].strip()
        pick = None
        for _ in range(20):  # a random draw almost always differs; the scan below is for odd splits
            j = rng.randrange(len(answers))
            if answers[j].strip() != own:
                pick = answers[j]
                break
        if pick is None:
            others = [a for a in answers if a.strip() != own]
            pick = rng.choice(others) if others else None
        out.append(pick)
    return out


def base_model(pairs: list[dict[str, Any]], cfg: Any, cache_dir: Path) -> list[str | None]:
    """For each pair, what the model writes for its prompt (cached per prompt by the settings' fingerprint)."""
    from lmforge.tasks import get_task

    task = get_task(cfg.task)
    prompts = [task.prompt_messages(pair) for pair in pairs]
    keys = [hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest() for m in prompts]
    cache_file = cache_dir / f"{fingerprint(cfg)}.jsonl"
    cache = _read_cache(cache_file)
    todo = sorted({k: m for k, m in zip(keys, prompts, strict=True) if k not in cache}.items())
    if todo:
        cache.update(_generate(cfg, [m for _, m in todo], [k for k, _ in todo]))
        _write_cache(cache_file, cache)
    return [cache.get(k) for k in keys]


def fingerprint(cfg: Any) -> str:
    """What the generations depend on: the model, the sampling settings, the seed and the chat template."""
    p = cfg.data.pairs
    blob = [
        p.model or cfg.model.name,
        p.temperature,
        p.top_p,
        p.max_new_tokens,
        cfg.seed,
        cfg.task.system,
        cfg.task.template,
        cfg.task.chat_template,
    ]
    return hashlib.sha256(json.dumps(blob, default=str).encode()).hexdigest()[:16]


def _generate(cfg: Any, prompts: list[Any], keys: list[str]) -> dict[str, str]:
    import torch

    from lmforge.evaluation.batching import progress
    from lmforge.formatting.templates import ensure_chat_template
    from lmforge.inference.generation import generate, load_for_inference

    p = cfg.data.pairs
    model, tok = load_for_inference(p.model or cfg.model.name, cfg.model.trust_remote_code)
    tok = ensure_chat_template(tok, cfg.task.chat_template)
    torch.manual_seed(cfg.seed)  # seeded once before the batches: same inputs, same answers on this machine
    bar = progress(len(prompts), "pairs: rejected answers", " prompts")
    gens = generate(
        model,
        tok,
        prompts,
        max_new_tokens=p.max_new_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        batch_size=p.batch_size,
        on_batch=bar.update,
    )
    bar.close()
    return {k: g.text for k, g in zip(keys, gens, strict=True)}


def _read_cache(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {r["key"]: r["text"] for r in rows}


def _write_cache(path: Path, cache: dict[str, str]) -> None:
    rows = [{"key": k, "text": v} for k, v in sorted(cache.items())]
    _write_rows(path, rows)  # a kill leaves the old cache or the new one


def make_pairs(cfg: Any, out_dir: Path) -> dict[str, Any]:
    """Rewrite train/val/test.jsonl of SFT records as pairs; returns stats.json's `pairs` block.

    >>> make_pairs(load_config("exp.yaml"), Path("runs/x/data"))  # doctest: +SKIP
    {'rejected': 'other_record', 'kept': 412, 'rejected_records': 0, 'reasons': {}, 'split': {...}}
    """
    method = cfg.data.pairs.rejected
    rejects: list[dict[str, Any]] = []
    split_counts, done = {}, {}
    for split in ("train", "val", "test"):
        path = out_dir / f"{split}.jsonl"
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        made = [(row, to_pair(row)) for row in rows]
        pairs = [p for _, p in made if isinstance(p, dict)]
        rejects += [_reject(row, p) for row, p in made if isinstance(p, str)]
        if method == "other_record":
            answers = other_record(pairs, cfg.seed)
        else:
            answers = base_model(pairs, cfg, out_dir / ".pairs") if pairs else []
        kept = []
        for pair, answer in zip(pairs, answers, strict=True):
            reason = _unusable(pair, answer, method)
            if reason:
                rejects.append(_reject(pair, reason))
            else:
                kept.append(
                    {**pair, "rejected": answer, "meta": {**pair.get("meta", {}), "rejected_by": method}}
                )
        done[path] = kept
        split_counts[split] = len(kept)
    for path, kept in done.items():  # written after every split is paired: a kill while the model
        _write_rows(path, kept)  # writes rejected answers leaves the SFT splits as they were
    _append_rows(out_dir / "rejects.jsonl", rejects)
    reasons = dict(Counter(r["reason"] for r in rejects))
    return {
        "step": STEP,  # also a row of stats.json's funnel (prepare appends it to `steps`)
        "in": sum(split_counts.values()) + len(rejects),
        "out": sum(split_counts.values()),
        "time_s": None,
        "rejected": method,
        "kept": sum(split_counts.values()),
        "rejected_records": len(rejects),
        "reasons": reasons,
        "split": split_counts,
    }


def _unusable(pair: dict[str, Any], answer: str | None, method: str) -> str | None:
    if answer is None:
        return "no other record in the split has a different answer"
    if not answer.strip():
        return "the base model wrote an empty answer"
    if answer.strip() == pair["chosen"].strip():
        return f"the {'base model' if method == 'base_model' else 'other record'} wrote the chosen answer"
    return None


def _reject(row: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"id": row.get("id"), "step": STEP, "reason": reason, "record": row}


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if rows:
        with open(path, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
