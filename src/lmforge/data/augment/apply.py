"""`data.augment`: extra train records made after the split, so nothing derived from a train record can
reach val or test. Each carries `augmented_from` (its source id) and `augment_method`; the label and
every field not rewritten are copied. Rejects go to rejects.jsonl (step `augment/...`) and are counted
apart from the source funnel in stats.json `augmented`, so read = kept + rejected still holds."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from lmforge.data.augment.eda import eda, load_synonyms
from lmforge.data.augment.filter import run_steps
from lmforge.data.augment.paraphrase import paraphrase
from lmforge.data.stats import reason_key
from lmforge.errors import UserError

# the input side of each task: rewriting an answer or a summary would teach wrong targets
DEFAULT_FIELDS = {
    "causal_lm": ["text"],
    "classification": ["text"],
    "sft": ["prompt", "instruction"],
    "qa": ["question"],
    "summarization": ["document"],
}
EXTRA = ("augmented_from", "augment_method")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _variant(row: dict[str, Any], method: str, k: int, texts: dict[str, str]) -> dict[str, Any]:
    fields = {key: v for key, v in row.items() if key not in ("id", "meta")}
    fields.update(texts)
    return {
        "id": f"{row['id']}#{method}-{k}",
        **fields,
        "augmented_from": row["id"],
        "augment_method": method,
        "meta": dict(row.get("meta") or {}),
    }


def make_eda(
    sources: list[dict[str, Any]], fields: list[str], cfg: Any, seed: int, base: Any
) -> list[dict[str, Any]]:
    """n edited copies of each source row; each copy's edits depend only on (seed, id, k)."""
    try:
        table = load_synonyms(str(base(cfg.synonyms)) if cfg.synonyms else None)
    except (OSError, ValueError) as e:
        raise UserError(f"data.augment.eda.synonyms: {e}") from None
    out = []
    for row in sources:
        for k in range(cfg.n):
            rng = random.Random(f"{seed}:{row['id']}:eda:{k}")
            texts = {
                f: eda(row[f], rng, table, cfg.synonym, cfg.insert, cfg.swap, cfg.delete)
                for f in fields
                if isinstance(row.get(f), str)
            }
            if texts:  # a record without the field (e.g. sft messages only) is not augmented
                out.append(_variant(row, "eda", k, texts))
    return out


def make_paraphrases(
    sources: list[dict[str, Any]], fields: list[str], cfg: Any, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(variants, reject lines for generations that failed); one batched generate call for all."""
    slots = [
        (row, k, f) for row in sources for k in range(cfg.n) for f in fields if isinstance(row.get(f), str)
    ]
    results = paraphrase([row[f] for row, _, f in slots], cfg, seed)
    texts: dict[tuple[str, int], dict[str, str]] = {}
    failed: dict[tuple[str, int], str] = {}
    for (row, k, f), (text, err) in zip(slots, results, strict=True):
        if err:
            failed.setdefault((row["id"], k), err)
        texts.setdefault((row["id"], k), {})[f] = text
    variants, rejects = [], []
    for row in sources:
        for k in range(cfg.n):
            if (row["id"], k) not in texts:
                continue
            v = _variant(row, "paraphrase", k, texts[(row["id"], k)])
            if (row["id"], k) in failed:
                rejects.append(
                    {
                        "id": v["id"],
                        "step": "augment/paraphrase",
                        "reason": failed[(row["id"], k)],
                        "record": v,
                    }
                )
            else:
                variants.append(v)
    return variants, rejects


def augment_train(cfg: Any, out_dir: Path, ctx: Any) -> dict[str, Any]:
    """Append augmentations of train.jsonl to it; returns stats.json's `augmented` block.

    >>> augment_train(load_config("exp.yaml"), Path("runs/x/data"), ctx)["by_method"]  # doctest: +SKIP
    {'eda': {'generated': 240, 'kept': 231, 'rejected': 9}}
    """
    aug, out_dir = cfg.data.augment, Path(out_dir)
    train = read_jsonl(out_dir / "train.jsonl")
    originals = train + read_jsonl(out_dir / "val.jsonl") + read_jsonl(out_dir / "test.jsonl")
    sources = train[: aug.max_records] if aug.max_records else train
    fields = aug.fields or DEFAULT_FIELDS[cfg.task.type]
    made: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    if aug.eda is not None and aug.eda.n:
        made += make_eda(sources, fields, aug.eda, cfg.seed, cfg.resolve_input)
    if aug.paraphrase is not None and aug.paraphrase.n:
        variants, failed = make_paraphrases(sources, fields, aug.paraphrase, cfg.seed)
        made += variants
        rejects += failed
    kept, dropped = run_steps(made, originals, cfg.data.steps, ctx, EXTRA)
    rejects += dropped
    _append(out_dir / "train.jsonl", kept)
    _append(out_dir / "rejects.jsonl", rejects)
    return _stats(kept, rejects)


def _stats(kept: list[dict[str, Any]], rejects: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    for row in kept:
        by.setdefault(row["augment_method"], {"generated": 0, "kept": 0, "rejected": 0})["kept"] += 1
    for r in rejects:
        by.setdefault(r["record"]["augment_method"], {"generated": 0, "kept": 0, "rejected": 0})[
            "rejected"
        ] += 1
        key = f"{r['step']}: {reason_key(r['reason'])}"
        reasons[key] = reasons.get(key, 0) + 1
    for v in by.values():
        v["generated"] = v["kept"] + v["rejected"]
    return {
        "generated": len(kept) + len(rejects),
        "kept": len(kept),
        "rejected": len(rejects),
        "by_method": by,
        "reasons": reasons,
    }


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite under a temporary name and rename: a kill leaves the file as it was or complete."""
    tmp = path.with_name(path.name + ".aug.tmp")
    with open(tmp, "wb") as out:
        if path.exists():
            with open(path, "rb") as f:
                while block := f.read(1 << 22):
                    out.write(block)
        for row in rows:
            out.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace"))
    os.replace(tmp, path)
