"""Tokenise + pack: lmforge's format layer vs `datasets.map` with the same fast tokenizer, then packing.

Both sides start from the prepared `train.jsonl` (SFT prompt/response records) and end with packed
bins of `max_seq_len` tokens with prompt tokens masked: lmforge's `tokenize_split` (chat template,
loss mask, parquet cache, best-fit-decreasing packing) vs `load_dataset("json")` + `Dataset.map(batched=True,
num_proc=2)` rendering the same chat template, then TRL's `pack_dataset` (bfd, the packer TRL's SFTTrainer
uses). Same tokenizer object class, same 2 processes; fresh caches every run.

    python -m bench.tokpack --records 30000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import sft_records


def _fresh(p: dict[str, Any], who: str) -> Path:
    out = Path(p["work"]) / who
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    shutil.copy(p["train_file"], out / "data" / "train.jsonl")
    return out


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    from lmforge.config import ExperimentConfig
    from lmforge.formatting.token_cache import tokenize_split
    from lmforge.models import load_tokenizer

    out = _fresh(p, "lmforge")
    cfg = ExperimentConfig.model_validate(
        {
            "name": "bench",
            "task": {"type": "sft"},
            "model": {"name": p["model"]},
            "data": {"output_dir": str(out / "data"), "workers": p["num_proc"]},
            "train": {"max_seq_len": p["max_seq_len"], "packing": True, "output_dir": str(out / "run")},
        }
    )
    tok = load_tokenizer(p["model"])
    t0 = time.perf_counter()
    bins = tokenize_split(cfg, "train", tok)
    secs = time.perf_counter() - t0
    return _result(
        p, secs, [len(b["input_ids"]) for b in bins], [sum(x != -100 for x in b["labels"]) for b in bins]
    )


def run_datasets(p: dict[str, Any]) -> dict[str, Any]:
    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl.data_utils import pack_dataset

    from bench.sft import hf_examples

    out = _fresh(p, "datasets")
    tok = AutoTokenizer.from_pretrained(p["model_dir"])
    t0 = time.perf_counter()
    ds = load_dataset(
        "json", data_files=str(out / "data" / "train.jsonl"), split="train", cache_dir=str(out / "cache")
    )

    def encode(batch: dict[str, list]) -> dict[str, list]:
        rows = hf_examples(
            [{"prompt": a, "response": b} for a, b in zip(batch["prompt"], batch["response"], strict=True)],
            tok,
            p["max_seq_len"],
        )
        return {"input_ids": [r["input_ids"] for r in rows], "labels": [r["labels"] for r in rows]}

    ds = ds.map(encode, batched=True, num_proc=p["num_proc"], remove_columns=ds.column_names)
    packed = pack_dataset(ds, p["max_seq_len"], strategy="bfd")
    lens = [len(x) for x in packed["input_ids"]]
    labels = [sum(x != -100 for x in lab) for lab in packed["labels"]]
    secs = time.perf_counter() - t0
    return _result(p, secs, lens, labels)


VARIANTS = {"lmforge": run_lmforge, "datasets_map": run_datasets}


def _result(p: dict[str, Any], secs: float, lens: list[int], labels: list[int]) -> dict[str, Any]:
    return {
        "seconds": secs,
        "records_per_s": p["n"] / secs,
        "bins": len(lens),
        "tokens": sum(lens),
        "label_tokens": sum(labels),
        "fill": sum(lens) / (len(lens) * p["max_seq_len"]),
    }


def bench_tokpack(
    model: str, n: int, reps: int, work: Path, max_seq_len: int = 512, smoke: bool = False
) -> dict:
    from lmforge.models import resolve_model

    work.mkdir(parents=True, exist_ok=True)
    train_file = work / f"train-{n}.jsonl"
    if not train_file.exists():
        train_file.write_text(
            "".join(
                json.dumps({**r, "id": f"t.jsonl:{i + 1}", "meta": {}}) + "\n"
                for i, r in enumerate(sft_records(n, seed=2))
            )
        )
    params = {
        "model": model,
        "model_dir": resolve_model(model),
        "work": str(work),
        "train_file": str(train_file),
        "n": n,
        "num_proc": 2,
        "max_seq_len": max_seq_len,
        "smoke": smoke,
    }
    runs = harness.interleave("tokpack", list(VARIANTS), params, reps)
    keys = ("records_per_s", "peak_rss_mb", "bins", "fill", "label_tokens")
    summary = {v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()}
    ratio = harness.paired_ratio(runs, "records_per_s", "lmforge", "datasets_map")
    summary["speedup_vs_datasets_map"] = ratio
    s = summary
    note = (
        f"{n} SFT records, max_seq_len {max_seq_len}, 2 processes, {reps} reps; records/s "
        f"{harness.fmt(s['lmforge']['records_per_s'])} vs {harness.fmt(s['datasets_map']['records_per_s'])}; "
        f"bins {s['lmforge']['bins']['median']:.0f} vs {s['datasets_map']['bins']['median']:.0f} (fill "
        f"{s['lmforge']['fill']['median']:.3f} vs {s['datasets_map']['fill']['median']:.3f}); label tokens "
        f"{s['lmforge']['label_tokens']['median']:.0f} vs {s['datasets_map']['label_tokens']['median']:.0f}; "
        f"peak RSS MB {s['lmforge']['peak_rss_mb']['median']:.0f} vs {s['datasets_map']['peak_rss_mb']['median']:.0f}"
    )
    harness.save(
        "tokpack",
        params,
        runs,
        summary,
        [("tokenise+pack records/s vs datasets.map", ">= 1x", ratio, ratio["median"] >= 1)],
        note,
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--records", type=int, default=30000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", default="runs/bench/tokpack")
    a = ap.parse_args()
    print(
        json.dumps(bench_tokpack(a.model, a.records, a.reps, Path(a.work).resolve()), indent=1, default=str)
    )


if __name__ == "__main__":
    main()
