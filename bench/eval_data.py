"""Data for the eval benchmark: short sentiment tweets (3 classes, ~40 tokens each, like issue #23's
35,857 tweets and examples/sentiment) and support-desk SFT pairs (bench.corpus, like examples/support-bot),
written as `lmforge prepare` leaves them; the token counts every side is measured against; the configs
and helpers the lmforge side and the baselines share.

>>> [r["label"] for r in tweets(3, seed=0)]
['neutral', 'negative', 'positive']
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import sft_records

LABELS = ["negative", "neutral", "positive"]
PRODUCTS = [
    "the new phone",
    "my headphones",
    "this laptop",
    "the coffee maker",
    "the delivery app",
    "the train service",
    "their support team",
    "the update",
    "this game",
    "the smart watch",
]
OPENERS = {
    "positive": ["Honestly loving {p}", "So happy with {p}", "Big thanks for {p}", "Wow, {p} is great"],
    "negative": [
        "Really fed up with {p}",
        "Never again with {p}",
        "So disappointed by {p}",
        "Ugh, {p} broke",
    ],
    "neutral": ["Just got {p}", "Trying out {p} today", "Anyone else using {p}?", "Thinking about {p}"],
}
DETAILS = {
    "positive": [
        "works perfectly and the battery lasts all day",
        "fast, quiet and easy to set up",
        "the best thing I bought this year",
        "support fixed it in five minutes",
    ],
    "negative": [
        "keeps crashing every hour",
        "arrived late and scratched",
        "the battery dies by noon",
        "waited two hours and nobody answered",
    ],
    "neutral": [
        "will see how it goes this week",
        "it came in a plain box",
        "not sure what to think yet",
        "the manual is forty pages long",
    ],
}
TAILS = ["#monday", "lol", "@brand", "#tech", "thoughts?", "", "smh", "🙂", "#shopping", "fyi"]


def tweets(n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` labelled tweets, classes balanced in expectation, ~25-35 words."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        label = r.choice(LABELS)
        p = r.choice(PRODUCTS)
        parts = [
            r.choice(OPENERS[label]).format(p=p),
            r.choice(DETAILS[label]) + ".",
            r.choice(DETAILS[label]),
        ]
        parts += [r.choice(DETAILS[r.choice(LABELS)]) + "?", r.choice(TAILS), r.choice(TAILS)]
        out.append({"text": " ".join(x for x in parts if x), "label": label})
    return out


def write_split(folder: Path, split: str, records: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as f:
        for i, rec in enumerate(records):
            f.write(json.dumps({**rec, "id": f"bench/{split}.jsonl:{i + 1}", "meta": {}}) + "\n")


def make_eval_data(work: Path, n_cls: int, n_sft: int, n_sft_train: int, done_when: dict[str, int]) -> dict:
    """Folders (train.jsonl + test.jsonl each): `cls` (the compared split), `sft`, and `issue` (issue
    #23's sizes: `train` tweets for steps x batch records, `test` tweets scored by base and fine-tuned)."""
    folders = {"cls": work / "cls" / "data", "sft": work / "sft" / "data", "issue": work / "issue" / "data"}
    cls = tweets(done_when["train"] + max(done_when["test"], n_cls), seed=1)
    write_split(folders["issue"], "train", cls[: done_when["train"]])
    write_split(folders["issue"], "test", cls[done_when["train"] : done_when["train"] + done_when["test"]])
    write_split(folders["cls"], "train", cls[: done_when["train"]])
    write_split(folders["cls"], "test", cls[done_when["train"] : done_when["train"] + n_cls])
    sft = sft_records(n_sft_train + n_sft, seed=2)
    write_split(folders["sft"], "train", sft[:n_sft_train])
    write_split(folders["sft"], "test", sft[n_sft_train:])
    return {k: str(v) for k, v in folders.items()}


def split_tokens(cfg: Any, split: str) -> dict[str, Any]:
    """Input tokens of a split's records as lmforge encodes them for the task (prompt, template, answer):
    the one token count every side's tokens/s is computed from."""
    from lmforge.formatting.templates import ensure_chat_template
    from lmforge.formatting.token_cache import make_task, read_jsonl
    from lmforge.models import load_tokenizer

    tok = ensure_chat_template(load_tokenizer(cfg.model.name), cfg.task.chat_template)
    records = read_jsonl(Path(cfg.data.output_dir) / f"{split}.jsonl")
    examples, _ = make_task(cfg).encode_batch(records, tok, cfg.train.max_seq_len)
    lens = sorted(len(e["input_ids"]) for e in examples if e is not None)
    return {"records": len(records), "tokens": sum(lens), "p50": lens[len(lens) // 2], "max": lens[-1]}


def bench_cfg(p: dict[str, Any], kind: str, data: Path, out: Path, **train: Any) -> Any:
    from lmforge.config import ExperimentConfig

    task = (
        {"type": "classification", "head": "classifier", "labels": LABELS}
        if kind != "sft"
        else {"type": "sft"}
    )
    return ExperimentConfig.model_validate(
        {
            "name": f"bench-{kind}",
            "seed": 0,
            "task": task,
            "model": {"name": p["model"], "lora": harness.lora_config()},
            "data": {"output_dir": str(data), "workers": 2},
            "train": {
                "output_dir": str(out),
                "precision": "bf16",
                "max_seq_len": 128 if kind != "sft" else 512,
                "eval_every": 0,
                "save_every": 10**6,
                "log_every": 5,
                "early_stopping": None,
                **train,
            },
            "eval": {"generate_n": 0, "batch_tokens": p["batch_tokens"]},
        }
    )


def fresh_copy(p: dict[str, Any], kind: str, who: str) -> Path:
    """A private copy of a data folder: no run finds another run's tokenised cache."""
    out = Path(p["work"]) / "runs" / f"{kind}-{who}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(p["data"][kind], out / "data")
    return out


def result_row(p: dict, kind: str, secs: float, loss: Any, accuracy: Any, models: int = 1) -> dict[str, Any]:
    tokens = p["tokens"][kind]["tokens"] * models
    return {"seconds": secs, "tokens_per_s": tokens / secs, "loss": loss, "accuracy": accuracy}


def warm_imports() -> None:
    """Import what every side uses before its clock starts: the sides are timed on work, not imports."""
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import sklearn.metrics  # noqa: F401  (lmforge's classification metrics)
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, Trainer  # noqa: F401
    from transformers.models.llama import modeling_llama  # noqa: F401

    import lmforge.api  # noqa: F401
    from lmforge.evaluation import compare  # noqa: F401
