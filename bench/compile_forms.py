"""Which compiled form of the LoRA step wins on this machine: one process, several forms, step times side by side.

A bare forward+backward+AdamW loop of the built-in model (LoRA r16 all-linear, bf16 autocast, 8 x 256 tokens
of bench/corpus.py's SFT records), in one of these forms (`--forms a,b,...`, run in that order):

- `peft`: the issue's loop. peft's LoRA (torch Dropout), fp32 frozen weights, rows cut from the concatenated
  tokens (every token a label), `model(input_ids, labels=...)` (full (B, T, V) logits, HF's loss).
- `lmforge`: lmforge's eager step. bf16 frozen weights, FastDropout, fused LoRA, packed rows (documents kept
  apart by `lmforge_docs` attention, only assistant tokens labelled), the label-only chunked LM head.

Each followed by `+` and a compile mode: `forward` (torch.compile(model.forward), the issue's), `layers`
(each decoder layer, training/compiled.py before this bench), `backbone` (the decoder stack's forward, head
eager), `loss` (the whole loss, head included). `lmforge` takes `:sdpa` (transformers' SDPA, packed rows'
mask built by transformers), `:peft` (peft's LoRA forward, not the fused node) and `:fp32` (frozen weights
kept fp32) after its name.

    python -m bench.compile_forms --forms peft,peft+forward,lmforge,lmforge+backbone --warmup 3 --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch

from bench import harness
from bench.corpus import sft_records
from bench.sft import hf_examples


def batches(tok: Any, rows: int, width: int, packed: bool, n: int) -> list[dict[str, torch.Tensor]]:
    """n batches of rows x width: packed documents (first fit, a padding document at each row's end) or
    the concatenated tokens cut into rows (every token a label, the issue's loop)."""
    exs = hf_examples(sft_records(400, seed=0), tok, width)
    if not packed:
        flat = torch.tensor([t for e in exs for t in e["input_ids"]])
        ids = flat[: len(flat) // width * width].view(-1, width)
        return [{"input_ids": ids[i * rows : (i + 1) * rows]} for i in range(n)]
    bins: list[list[dict[str, list[int]]]] = []
    for e in exs:
        room = next(
            (b for b in bins if sum(len(x["input_ids"]) for x in b) + len(e["input_ids"]) <= width), None
        )
        room.append(e) if room is not None else bins.append([e])
    out = []
    for i in range(n):
        ids, labels, pos = (torch.zeros(rows, width, dtype=torch.long) for _ in range(3))
        labels.fill_(-100)
        for r, b in enumerate(bins[i * rows : (i + 1) * rows]):
            at = 0
            for e in b:
                k = len(e["input_ids"])
                ids[r, at : at + k] = torch.tensor(e["input_ids"])
                labels[r, at : at + k] = torch.tensor(e["labels"])
                pos[r, at : at + k] = torch.arange(k)
                at += k
            pos[r, at:] = torch.arange(width - at)  # the padding document
        out.append({"input_ids": ids, "labels": labels, "position_ids": pos})
    return out


def build(form: str, model_dir: str, layers: int | None) -> tuple[Any, Any, str]:
    """(model, loss function of a batch, batch kind) for a form's name before its `+`; `layers`: keep the
    first n decoder layers (a shorter compile, for comparing forms)."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    name, *opts = form.split(":")
    cut = {"num_hidden_layers": layers} if layers else {}
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir, **cut), harness.peft_lora_config())
    model.train()
    if name == "peft":
        return (
            model,
            lambda b: model(input_ids=b["input_ids"], labels=b["input_ids"], use_cache=False).loss,
            "rows",
        )
    from lmforge.training.fused_lora import fuse_lora
    from lmforge.training.loss import count_targets, loss_sum
    from lmforge.training.setup import choose_attention, speed_up_on_cpu

    speed_up_on_cpu(model, "no" if "fp32" in opts else "bf16", sharded=False)  # "no": FastDropout only
    if "peft" not in opts:
        fuse_lora(model)
    if "sdpa" not in opts:
        choose_attention(model.get_base_model())
    return model, lambda b: loss_sum(model, b, guard=False) / count_targets(b), "packed"


def compile_form(model: Any, loss: Any, mode: str) -> Any:
    """The loss function with `mode`'s part compiled (inductor, default mode)."""
    from lmforge.training.compiled import decoder_layers
    from lmforge.training.lm_head import split_head

    if mode == "forward":
        model.forward = torch.compile(model.forward)
    elif mode == "layers":
        for layer in decoder_layers(model):
            layer.compile()
    elif mode == "backbone":
        split_head(model, guard=False)[0].compile()
    elif mode == "loss":
        return torch.compile(loss)
    return loss


def step(loss_fn: Any, opt: Any, b: dict[str, torch.Tensor]) -> float:
    """One forward+backward+AdamW step under bf16 autocast; returns the loss."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = loss_fn(b)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return round(float(loss.detach()), 4)


def profile_step(loss_fn: Any, opt: Any, b: dict[str, torch.Tensor], top: int = 14) -> list[str]:
    """Self CPU seconds of the top ops of one more step (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as p:
        step(loss_fn, opt, b)
    rows = sorted(p.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    return [f"{e.key} {e.self_cpu_time_total / 1e6:.2f}s x{e.count}" for e in rows]


def run_form(spec: str, model_dir: str, tok: Any, a: argparse.Namespace) -> dict[str, Any]:
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    form, _, mode = spec.partition("+")
    model, loss_fn, kind = build(form, model_dir, a.layers)
    loss_fn = compile_form(model, loss_fn, mode)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    data = batches(tok, 8, 256, kind == "packed", a.warmup + a.steps)
    times, losses = [], []
    for b in data:
        t0 = time.perf_counter()
        losses.append(step(loss_fn, opt, b))
        times.append(time.perf_counter() - t0)
    prof = profile_step(loss_fn, opt, data[-1]) if a.profile else None
    return {
        "form": spec,
        **({"profile": prof} if prof else {}),
        "step_s": round(statistics.median(times[a.warmup :]), 2),
        "first_step_s": round(times[0], 1),
        "times": [round(t, 2) for t in times],
        "losses": losses,
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "break_reasons": sorted({k.splitlines()[0][:120] for k in counters["graph_break"]})[:8],
    }


def main() -> None:
    from transformers import AutoTokenizer

    from lmforge.models import resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--forms", default="peft,peft+forward")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--layers", type=int, help="keep the first n decoder layers (faster compiles)")
    ap.add_argument("--profile", action="store_true", help="and the top ops of one more step")
    a = ap.parse_args()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", "runs/bench/compile_forms/inductor")
    model_dir = resolve_model("smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(model_dir)
    for spec in a.forms.split(","):
        print(json.dumps(run_form(spec, model_dir, tok, a)), flush=True)


if __name__ == "__main__":
    main()
