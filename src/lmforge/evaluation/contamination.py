"""The contamination split of `lmforge eval`: which evaluated records overlap the training split, and the
task's metrics on the clean and on the overlapping records apart (eval.json's `contamination`).

A record of the evaluated split overlaps when any of three checks finds it in train.jsonl; each check
compares what the data stage's step of the same kind compares, with that step's code and defaults:
- `exact`: the normalised text (lowercase, no punctuation, single spaces) is a training record's
  (exact_dedup's keys: the record's text, tools and calls, `Record.dedup_text`);
- `ngram`: it shares a 13-word n-gram with a training record (GPT-3's and lm-eval's decontamination
  n-gram; the decontaminate step's words: Chinese, Japanese, Korean and Thai cut into the language's
  words by words.py, so 13 jieba words, not 13 characters; the text without tool definitions, which
  many records share by design, `Record.text`). A text under 13 words has no 13-gram;
- `near_duplicate`: near_dedup's MinHash (word 5-grams, 128 permutations, LSH, every candidate verified
  on its exact Jaccard) puts it in one group with a training record at Jaccard >= 0.8, near_dedup's
  default: run over train + evaluated records, it would have dropped the record as a training record's copy.
The record's text is all its text fields joined by a blank line: prompt and answer, every turn of a
conversation, a classification record's text (not its label); a preference pair its prompt and chosen
answer (the dedup steps' `KEY_FIELDS`).

The metrics of a subset come from the per-record results of the one scoring pass (compare.score keeps a
`subset` function per model): losses summed over the subset's tokenised examples, generation metrics
recomputed on its generated records, classification metrics on its predictions. Nothing runs a model twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

NGRAM = 13  # words, as GPT-3 (Brown et al. 2020, appendix C) and lm-eval's decontamination
BATCH = 2048  # texts hashed at a time (shingle_hash's arrays take ~40 bytes per text byte)


def record_text(row: dict[str, Any], task: str, tools: bool = True) -> str:
    """The text compared: `{"prompt": "Hi", "response": "Yo"}` -> "Hi\\n\\nYo" (`tools`: with the
    record's tools and calls, as the dedup steps compare it)."""
    from lmforge.data.preference import KEY_FIELDS
    from lmforge.data.record import Record

    rec = Record(id=str(row.get("id", "")), fields={k: v for k, v in row.items() if k not in ("id", "meta")})
    on = KEY_FIELDS if task == "preference" else None
    return rec.dedup_text(on) if tools else rec.text(on)


def exact_overlap(train: list[str], test: list[str]) -> np.ndarray:
    """(len(test),) whether each test text's normalised form is a training text's (exact_dedup's keys).

    >>> exact_overlap(["Hello, world!"], ["hello world", "hello there"]).tolist()
    [True, False]
    """
    from lmforge.data.steps.dedup import ExactDedup

    keys = ExactDedup().keys
    return np.isin(keys(test)[:, 0], keys(train)[:, 0]) if test else np.zeros(0, dtype=bool)


def ngram_overlap(train: list[str], test: list[str], n: int = NGRAM) -> np.ndarray:
    """(len(test),) whether each test text shares a word n-gram with a training text (hashed n-grams of
    shingle_hash, the words of the decontaminate step); texts shorter than n words have none.

    >>> ngram_overlap(["a b c d"], ["x b c d", "b c x"], n=3).tolist()
    [True, False]
    """
    parts = [_ngrams(train[i : i + BATCH], n)[0] for i in range(0, len(train), BATCH)]
    seen = np.unique(np.concatenate([np.empty(0, np.uint64), *parts]))
    out = np.zeros(len(test), dtype=bool)
    for i in range(0, len(test), BATCH):
        flat, owner = _ngrams(test[i : i + BATCH], n)
        out[i + owner[np.isin(flat, seen)]] = True
    return out


def _ngrams(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram hashes of texts with at least n words, and the index of the text of each."""
    from lmforge.data.steps.shingle_hash import ngram_hashes, word_hashes

    h, lens = word_hashes(texts)
    flat, offsets = ngram_hashes(h, lens, n)
    owner = np.repeat(np.arange(len(texts)), np.diff(offsets))
    full = lens[owner] >= n  # a shorter text's one shingle is all its words, not an n-gram
    return flat[full], owner[full]


def near_overlap(train: list[str], test: list[str], seed: int = 42) -> np.ndarray:
    """(len(test),) whether near_dedup, run over train then test with its defaults, groups each test text
    with a training text (its connected components of verified pairs at Jaccard >= 0.8)."""
    from lmforge.data.steps.base import StepContext
    from lmforge.data.steps.dedup import NearDedup, components

    step = NearDedup(ctx=StepContext(seed=seed))
    texts = train + test
    keys = step.keys(texts)
    pairs = step.candidates(keys[:, step.band_columns(range(step.bands))])
    sims = step.similarity(pairs, keys.__getitem__, lambda idx: {i: texts[i] for i in idx})
    roots = components(len(texts), pairs[sims >= step.threshold])
    return roots[len(train) :] < len(train)  # a group's root is its earliest text: a training one


def find_overlaps(train: list[dict], test: list[dict], task: str, seed: int = 42) -> dict[str, np.ndarray]:
    """{"exact", "ngram", "near_duplicate"}: (len(test),) bools, one per check (a copy hits all three)."""
    keyed = [record_text(r, task) for r in train], [record_text(r, task) for r in test]
    plain = (
        [record_text(r, task, tools=False) for r in train],
        [record_text(r, task, tools=False) for r in test],
    )
    return {
        "exact": exact_overlap(*keyed),
        "ngram": ngram_overlap(*plain),
        "near_duplicate": near_overlap(*keyed, seed=seed),
    }


def contamination(
    cfg: Any, split: str, records: list[dict], results: dict[str, dict]
) -> dict[str, Any] | None:
    """eval.json's `contamination`: the overlap counts and each model's metrics on the clean and the
    overlapping records (None when there is no training split to compare with, or train is evaluated).

    >>> contamination(cfg, "test", records, results)["overlap"]  # doctest: +SKIP
    {'n': 3, 'base': {'loss': 2.1, ...}, 'finetuned': {'loss': 0.4, ...}}
    """
    from lmforge.data.steps.dedup import NearDedup
    from lmforge.formatting.token_cache import read_jsonl

    path = Path(cfg.data.output_dir) / "train.jsonl"
    if split == "train" or not path.is_file():
        return None
    train = read_jsonl(path)
    hits = find_overlaps(train, records, cfg.task.type, cfg.seed)
    overlap = hits["exact"] | hits["ngram"] | hits["near_duplicate"]
    near = NearDedup()  # its defaults, as near_overlap uses them
    out: dict[str, Any] = {
        "against": "train",
        "train_records": len(train),
        "text": "all text fields of a record joined by a blank line (prompt and answer, every turn)",
        "thresholds": {
            "exact": "normalised text equal (lowercase, punctuation removed, single spaces)",
            "ngram": NGRAM,
            "near_duplicate_jaccard": near.threshold,
            "near_duplicate_shingle_words": near.ngram,
            "near_duplicate_num_perm": near.num_perm,
        },
        **{kind: int(hit.sum()) for kind, hit in hits.items()},
    }
    for name, mask in (("clean", ~overlap), ("overlap", overlap)):
        keep = np.nonzero(mask)[0].tolist()
        block: dict[str, Any] = {"n": len(keep)}
        for side, result in results.items():
            if keep and result.get("subset"):
                block[side] = result["subset"](keep)
        out[name] = block
    return out


def loss_of(scored: list[tuple[list[float], list[int]]]) -> dict[str, float]:
    """Token-weighted loss and perplexity from score_units' (log-prob sums, token counts) per example."""
    total, count = -sum(s[0] for s, _ in scored if s), sum(c[0] for _, c in scored if c)
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def example_owners(cfg: Any, task: Any, tokenizer: Any, records: list[dict]) -> list[int]:
    """The record index of each example that tokenize_split gives for these records (unpacked): a record
    dropped by `task.truncate` has none, a long causal_lm document one per chunk (token_cache's rules)."""
    from lmforge.tasks.causal_lm import chunk

    causal = task.name == "causal_lm"
    encoded, _ = task.encode_batch(records, tokenizer, 1 << 62 if causal else cfg.train.max_seq_len)
    per = [0 if e is None else len(chunk(e, cfg.train.max_seq_len)) if causal else 1 for e in encoded]
    return [i for i, k in enumerate(per) for _ in range(k)]


def generation_subsets(
    cfg: Any, task: Any, tokenizer: Any, records: list[dict], sample: list[int], scored: list, gens: list
) -> Callable[[list[int]], dict[str, Any]]:
    """metrics(records kept) for a generating task: the loss of their examples, the generation metrics of
    those generated (`n` when fewer than kept), as compare.score computes them for the whole split."""
    from lmforge.evaluation.generating import generation_metrics, reference
    from lmforge.evaluation.tool_metrics import tool_scores

    owners = example_owners(cfg, task, tokenizer, records)
    if len(owners) != len(scored):  # not the examples scored: no loss for a subset rather than a wrong one
        owners = []

    def metrics(keep: list[int]) -> dict[str, Any]:
        kept = set(keep)
        out = loss_of([s for s, r in zip(scored, owners, strict=True) if r in kept]) if owners else {}
        picked = [j for j, i in enumerate(sample) if i in kept]
        if not picked:
            return out
        rows, sub = [records[sample[j]] for j in picked], [gens[j] for j in picked]
        preds, refs = [g.text for g in sub], [reference(task, r) for r in rows]
        out.update(generation_metrics(cfg, task, preds, refs, sub, [r.get("answer") for r in rows]))
        if task.name == "sft":
            out.update(tool_scores(task, tokenizer, rows, sub))
        if len(picked) != len(keep):
            out["n"] = len(picked)
        return out

    return metrics


def label_subsets(
    cfg: Any, task: Any, records: list[dict], probs: Any, predicted: list[str]
) -> Callable[[list[int]], dict[str, Any]]:
    """metrics(records kept) for classification: accuracy, macro-F1, per-class precision/recall; the loss
    too with `task.head: classifier` (its cross-entropy is -log p(label); the lm head's loss is per answer
    token, summed inside class_scores, so a subset has none)."""
    from lmforge.evaluation.metrics import classification_metrics

    labels = task.label_set()

    def metrics(keep: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        known = [i for i in keep if records[i].get("label") is not None]
        if cfg.task.head == "classifier" and known:
            at = [labels.index(str(records[i]["label"])) for i in known]
            out["loss"] = float(-probs[known, at].log().mean())
        truth = [str(records[i]["label"]) for i in keep]
        out.update(classification_metrics(truth, [predicted[i] for i in keep], labels)[0])
        return out

    return metrics


def table_lines(result: dict[str, Any]) -> list[str]:
    """The contamination lines under `lmforge eval`'s table: counts, then each metric clean vs overlap."""
    c = result.get("contamination")
    if not c:
        return []
    t = c["thresholds"]
    lines = [
        f"contamination vs train ({c['train_records']} records): {c['overlap']['n']} of {result['records']} "
        f"overlap ({c['exact']} exact, {c['ngram']} share a {t['ngram']}-gram, {c['near_duplicate']} "
        f"near-duplicate at jaccard >= {t['near_duplicate_jaccard']}), {c['clean']['n']} clean",
        f"{'metric':<22}{'clean base':>12}{'tuned':>10}{'overlap base':>14}{'tuned':>10}",
    ]
    clean, over = c["clean"], c["overlap"]
    names = dict.fromkeys(k for b in (clean, over) for s in ("finetuned", "base") for k in b.get(s, {}))
    for key in names:
        if key == "n" or key.startswith(("n_", "precision_", "recall_")):
            continue
        cells = [b.get(s, {}).get(key) for b in (clean, over) for s in ("base", "finetuned")]
        shown = ["-" if v is None else f"{v:.4f}" for v in cells]
        lines.append(f"{key:<22}{shown[0]:>12}{shown[1]:>10}{shown[2]:>14}{shown[3]:>10}")
    return lines
