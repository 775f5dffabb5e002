"""SFT data for the training benchmark: generated records, the transformers-docs tokenisation, one shared
val-loss function for every trained model, and the machine's measured matmul ceiling (for MFU).

>>> hf_examples([{"prompt": "Hi", "response": "Hello"}], tok, 512)[0].keys()  # doctest: +SKIP
dict_keys(['input_ids', 'attention_mask', 'labels'])
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.corpus import sft_records


def _records(p: dict[str, Any], split: str) -> list[dict[str, Any]]:
    with open(Path(p["data"]) / f"{split}.jsonl") as f:
        return [json.loads(line) for line in f]


def hf_examples(records: list[dict[str, Any]], tok: Any, max_len: int) -> list[dict[str, list[int]]]:
    """The transformers-docs recipe: chat template rendered, prompt tokens labelled -100, truncated."""
    prompts = tok.apply_chat_template(
        [[{"role": "user", "content": r["prompt"]}] for r in records],
        tokenize=False,
        add_generation_prompt=True,
    )
    fulls = tok.apply_chat_template(
        [
            [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["response"]}]
            for r in records
        ],
        tokenize=False,
    )
    p_ids = tok(prompts, add_special_tokens=False)["input_ids"]
    f_ids = tok(fulls, add_special_tokens=False)["input_ids"]
    out = []
    for p, f in zip(p_ids, f_ids, strict=True):
        f = f[:max_len]
        out.append(
            {
                "input_ids": f,
                "attention_mask": [1] * len(f),
                "labels": [-100] * min(len(p), len(f)) + f[len(p) :],
            }
        )
    return out


def val_loss(model: Any, p: dict[str, Any], batch: int = 8) -> float:
    """Token-weighted mean cross-entropy of the val set's label tokens, bf16 autocast, same for all."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(p["model_dir"])
    exs = hf_examples(_records(p, "val"), tok, p["max_seq_len"])
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, len(exs), batch):
            part = exs[i : i + batch]
            width = max(len(e["input_ids"]) for e in part)
            ids = torch.tensor([e["input_ids"] + [0] * (width - len(e["input_ids"])) for e in part])
            att = torch.tensor([e["attention_mask"] + [0] * (width - len(e["input_ids"])) for e in part])
            lab = torch.tensor([e["labels"] + [-100] * (width - len(e["input_ids"])) for e in part])
            logits = model(input_ids=ids, attention_mask=att).logits.float()  # (B, T, V)
            ce = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)),
                lab[:, 1:].reshape(-1),
                reduction="sum",
                ignore_index=-100,
            )
            total, n = total + float(ce), n + int((lab[:, 1:] != -100).sum())
    return total / n


def matmul_peak(size: int = 1024, seconds: float = 2.0) -> dict[str, float]:
    """Measured matmul FLOP/s of this machine in bf16 and fp32 (the MFU ceiling)."""
    import torch

    out = {}
    for name, dt in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a, b = torch.randn(size, size, dtype=dt), torch.randn(size, size, dtype=dt)
        a @ b
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a @ b
            n += 1
        out[name] = 2 * size**3 * n / (time.perf_counter() - t0)
    return out


def make_data(work: Path, n_train: int, n_val: int, model_dir: str, max_len: int) -> dict[str, Any]:
    """Write train/val.jsonl (prepared format) and count the label and input tokens of the train split."""
    from transformers import AutoTokenizer

    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    recs = sft_records(n_train + n_val, seed=0)
    for split, part in (("train", recs[:n_train]), ("val", recs[n_train:])):
        with (data / f"{split}.jsonl").open("w") as f:
            for i, r in enumerate(part):
                f.write(json.dumps({**r, "id": f"bench/{split}.jsonl:{i + 1}", "meta": {}}) + "\n")
    exs = hf_examples(recs[:n_train], AutoTokenizer.from_pretrained(model_dir), max_len)
    lens = sorted(len(e["input_ids"]) for e in exs)
    return {
        "data": str(data),
        "label_tokens": sum(sum(x != -100 for x in e["labels"]) for e in exs),
        "input_tokens": sum(lens),
        "len_p10_p50_p90_max": [
            lens[len(lens) // 10],
            lens[len(lens) // 2],
            lens[9 * len(lens) // 10],
            lens[-1],
        ],
    }
