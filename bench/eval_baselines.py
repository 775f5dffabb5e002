"""The baselines of the eval benchmark: the HF Trainer's `evaluate()` and the text-classification pipeline,
on the fine-tuned adapter lmforge trained, loaded the plain transformers + peft way. Both get the prompts
exactly as lmforge renders them (same template, same tokens), so only the scoring differs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.eval_data import LABELS, bench_cfg, fresh_copy, result_row, warm_imports


def eval_hf_trainer(p: dict[str, Any], kind: str) -> dict[str, Any]:
    import numpy as np
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding, Trainer, TrainingArguments

    warm_imports()
    out = fresh_copy(p, kind, "hf")
    t0 = time.perf_counter()
    model, tok = _hf_model(p, kind)
    records = [json.loads(x) for x in (out / "data" / "test.jsonl").read_text().splitlines()]
    ds = Dataset.from_list(_hf_rows(p, kind, records, tok))
    args = TrainingArguments(
        output_dir=str(out / "run"), per_device_eval_batch_size=8, bf16=True, use_cpu=True, report_to="none"
    )
    if kind == "sft":
        collator, metrics = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100), None
    else:
        collator = DataCollatorWithPadding(tok)

        def metrics(pred: Any) -> dict[str, float]:
            return {"accuracy": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}

    trainer = Trainer(model=model, args=args, data_collator=collator, compute_metrics=metrics)
    m = trainer.evaluate(ds)
    return result_row(p, kind, time.perf_counter() - t0, m["eval_loss"], m.get("eval_accuracy"))


def eval_pipeline(p: dict[str, Any]) -> dict[str, Any]:
    import torch
    from transformers import pipeline

    warm_imports()
    out = fresh_copy(p, "cls", "pipeline")
    t0 = time.perf_counter()
    model, tok = _hf_model(p, "cls")
    model = model.merge_and_unload().to(torch.bfloat16).eval()
    records = [json.loads(x) for x in (out / "data" / "test.jsonl").read_text().splitlines()]
    prompts = _prompts(p, records, tok)
    clf = pipeline("text-classification", model=model, tokenizer=tok, batch_size=8, device="cpu")
    preds = clf(prompts)
    names = {f"LABEL_{i}": name for i, name in enumerate(LABELS)} | {name: name for name in LABELS}
    accuracy = sum(names[x["label"]] == r["label"] for x, r in zip(preds, records, strict=True)) / len(
        records
    )
    return result_row(p, "cls", time.perf_counter() - t0, None, accuracy)


def _hf_model(p: dict[str, Any], kind: str) -> tuple[Any, Any]:
    """The fine-tuned adapter on the base model, loaded the plain transformers + peft way."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    adapter = Path(p["work"]) / ("issue" if kind != "sft" else "sft") / "run" / "final"
    tok = AutoTokenizer.from_pretrained(adapter)
    if kind == "sft":
        return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(p["model_dir"]), adapter), tok
    base = AutoModelForSequenceClassification.from_pretrained(p["model_dir"], num_labels=len(LABELS))
    base.config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    return PeftModel.from_pretrained(base, adapter), tok


def _prompts(p: dict[str, Any], records: list[dict], tok: Any) -> list[str]:
    """The classification prompts exactly as lmforge renders them (template, chat template)."""
    from lmforge.formatting.token_cache import make_task
    from lmforge.tasks.base import render_prompt

    task = make_task(bench_cfg(p, "cls", Path(p["data"]["cls"]), Path(p["work"]) / "unused"))
    return [render_prompt(task, r, tok) for r in records]


def _hf_rows(p: dict[str, Any], kind: str, records: list[dict], tok: Any) -> list[dict[str, Any]]:
    if kind == "sft":  # lmforge's tokenisation of the same records (prompt masked, answer + EOS labelled)
        from lmforge.formatting.token_cache import make_task

        task = make_task(bench_cfg(p, "sft", Path(p["data"]["sft"]), Path(p["work"]) / "unused"))
        examples, _ = task.encode_batch(records, tok, 512)
        return [{"input_ids": e["input_ids"], "labels": e["labels"]} for e in examples if e is not None]
    ids = tok(_prompts(p, records, tok), add_special_tokens=False)["input_ids"]
    return [{"input_ids": x, "labels": LABELS.index(r["label"])} for x, r in zip(ids, records, strict=True)]
