"""The whole training process, side by side: `lmforge train` vs TRL's SFTTrainer (with and without packing)
on real dialogues nobody on the project wrote (the Chit Chat Challenge dataset, shipped in the PyPI package
`chitchat-dataset`), one epoch of LoRA SFT on the built-in model.

Each side runs in its own process, from the interpreter's start to its exit (the harness's wall time), and
breaks its time into phases (bench/phases.py): process start, imports, model load, tokenisation/cache,
setup (LoRA, optimizer), steps, eval (val loss), save, report; and its memory into weights, optimizer
state, gradients, and the RSS at each phase's end with glibc's free-but-held bytes (allocator slack).
lmforge runs its real CLI entry (`lmforge.cli.main.main(["train", YAML])`) with its stage functions
wrapped by the phase clock; TRL runs the script its docs show, each call timed. Both: batch 8, max length
256, LoRA r16/alpha32/dropout 0.05 on all linear layers, lr 2e-4 cosine, warmup 3%, bf16 autocast, the
val loss once at the end (lmforge also logs the untrained model's, its default). TRL keeps its defaults
otherwise (gradient checkpointing on, loss on every token of a `messages` record: SmolLM2's template has
no generation markers for assistant-only loss); lmforge learns the assistant turns.

    python -m bench.train_whole --reps 1
    python -m bench.train_whole --variants lmforge   # one side, e.g. while measuring a change
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from bench import harness
from bench.phases import Phases, model_memory


def dialogues(n: int, skip: int = 0) -> list[list[dict[str, str]]]:
    """`n` conversations of the Chit Chat Challenge as chat messages, after the first `skip`.

    Each turn is one speaker's run of messages (joined by newlines); the first speaker is the user, the
    second the assistant; a trailing user turn is dropped (it has no answer to learn)."""
    spec = importlib.util.find_spec("chitchat_dataset")  # the module itself reads all 40 MB at import
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "bench.train_whole needs the chitchat-dataset package: pip install --no-deps chitchat-dataset"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "dataset.json"
    out = []
    for conv in json.loads(path.read_text(encoding="utf-8")).values():
        turns = [
            {"role": "user" if i % 2 == 0 else "assistant", "content": "\n".join(m["text"] for m in turn)}
            for i, turn in enumerate(conv["messages"])
        ]
        if turns and turns[-1]["role"] == "user":
            turns.pop()
        if len(turns) >= 2:
            out.append(turns)
    return out[skip : skip + n]


def write_data(work: Path, n_train: int, n_val: int) -> Path:
    """train.jsonl and val.jsonl as `lmforge prepare` writes them (id, messages, meta)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    convs = dialogues(n_train + n_val)
    for split, part in (("train", convs[:n_train]), ("val", convs[n_train:])):
        with (data / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for i, msgs in enumerate(part):
                f.write(json.dumps({"id": f"chitchat/{split}:{i + 1}", "messages": msgs, "meta": {}}) + "\n")
    return data


def _fresh(p: dict[str, Any], who: str) -> Path:
    out = Path(p["work"]) / who
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(p["data"], out / "data")
    return out


def run_lmforge(p: dict[str, Any]) -> dict[str, Any]:
    clock = Phases()
    out = _fresh(p, "lmforge")
    exp = {
        "name": "whole",
        "seed": 0,
        "task": {"type": "sft"},
        "model": {"name": p["model"], "lora": harness.lora_config()},
        "data": {"output_dir": str(out / "data")},
        "train": {
            "output_dir": str(out / "run"),
            "epochs": 1,
            "batch_size": p["batch"],
            "lr": 2e-4,
            "max_seq_len": p["max_seq_len"],
            "eval_every": 0,
            "report_to": [],
            **p.get("lmforge_train", {}),
        },
    }
    (out / "exp.yaml").write_text(json.dumps(exp), encoding="utf-8")  # JSON is YAML
    with clock.phase("imports"):
        cli = importlib.import_module("lmforge.cli.main")  # what `lmforge train` imports, then train()
        from lmforge.formatting import token_cache  # noqa: F401
        from lmforge.reporting import render
        from lmforge.training import loop, run, setup
    grabbed: dict[str, Any] = {}
    _setup_run = run.setup_run

    def setup_run(*a: Any, **kw: Any) -> Any:
        grabbed["run"] = _setup_run(*a, **kw)
        return grabbed["run"]

    run.setup_run = setup_run
    for owner, attr, name in (
        (run, "setup_run", "setup"),
        (run, "load_examples", "tokenise"),
        (setup, "build_model", "model load"),
        (run, "run_loop", "loop"),  # batching, logging: the loop's own time
        (loop, "optimizer_step", "steps"),
        (loop, "baseline_eval", "eval"),
        (loop, "validate", "eval"),
        (loop, "save", "save"),
        (loop, "save_best", "save"),
        (run, "finish", "save"),
        (render, "write_report_safely", "report"),
    ):
        clock.wrap(owner, attr, name)
    with clock.phase("other"):
        code = cli.main(["train", str(out / "exp.yaml")])
    if code != 0:
        raise RuntimeError(f"lmforge train exited {code}")
    r = grabbed["run"]
    metrics = json.loads((out / "run" / "final" / "lmforge.json").read_text())["metrics"]
    return {
        **clock.report(),
        **model_memory(r.model, r.optimizer),
        "steps": metrics["steps"],
        "val_loss": metrics["val_loss"],
    }


def run_trl(p: dict[str, Any], packing: bool) -> dict[str, Any]:
    clock = Phases()
    out = _fresh(p, f"trl_{'pack' if packing else 'nopack'}")
    with clock.phase("imports"):
        import peft  # noqa: F401 - TRL's imports, timed in this phase
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import SFTConfig, SFTTrainer
    with clock.phase("tokenise"):
        tok = AutoTokenizer.from_pretrained(p["model_dir"])
        split = {s: Dataset.from_json(str(out / "data" / f"{s}.jsonl")) for s in ("train", "val")}
        split = {s: ds.remove_columns(["id", "meta"]) for s, ds in split.items()}
    with clock.phase("model load"):
        model = AutoModelForCausalLM.from_pretrained(p["model_dir"])
    args = SFTConfig(
        output_dir=str(out / "run"),
        per_device_train_batch_size=p["batch"],
        per_device_eval_batch_size=p["batch"],
        max_length=p["max_seq_len"],
        packing=packing,
        learning_rate=2e-4,
        num_train_epochs=1,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        bf16=True,
        use_cpu=True,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=0,
    )
    peft_cfg = harness.peft_lora_config()
    with clock.phase("setup"):  # LoRA wrap, tokenising and packing the datasets (TRL does them here)
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=split["train"],
            eval_dataset=split["val"],
            processing_class=tok,
            peft_config=peft_cfg,
        )
    with clock.phase("steps"):
        trainer.train()
    with clock.phase("eval"):
        val = trainer.evaluate()["eval_loss"]
    with clock.phase("save"):
        trainer.save_model(str(out / "run" / "final"))
    return {
        **clock.report(),
        **model_memory(trainer.model, trainer.optimizer),
        "steps": trainer.state.global_step,
        "val_loss": val,
    }


VARIANTS = {
    "lmforge": run_lmforge,
    "trl_nopack": lambda p: run_trl(p, packing=False),
    "trl_pack": lambda p: run_trl(p, packing=True),
}


def _phase_line(v: str, r: dict[str, Any]) -> str:
    secs = ", ".join(f"{k} {s:.1f}" for k, s in r["seconds"].items())
    mem = r["memory_marks"][-1][1]
    return (
        f"{v}: {r['wall_s']:.0f} s [{secs}; exit {r['wall_s'] - r['process_s']:.1f}], peak RSS "
        f"{r['peak_rss_mb']:.0f} MB (frozen {r['frozen_weights_mb']}, trainable {r['trainable_weights_mb']}, "
        f"optimizer {r['optimizer_state_mb']}, malloc free at end {mem.get('malloc_free_mb', '-')} MB), "
        f"{r['steps']} steps, val loss {r['val_loss']:.4f}"
    )


def bench_whole(
    n_train: int,
    n_val: int,
    reps: int,
    work: Path,
    variants: list[str],
    record: bool = True,
    lmforge_train: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from lmforge.models import resolve_model

    params = {
        "model": "smollm2-135m-instruct",
        "model_dir": resolve_model("smollm2-135m-instruct"),
        "work": str(work),
        "batch": 8,
        "max_seq_len": 256,
        "n_train": n_train,
        "n_val": n_val,
        "data": str(write_data(work, n_train, n_val)),
        "malloc": os.environ.get("LD_PRELOAD", "glibc"),
        "lmforge_train": lmforge_train
        or {},  # train.* keys on top of the defaults (a variant being measured)
    }
    runs = harness.interleave("train_whole", variants, params, reps)
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in ("wall_s", "peak_rss_mb", "val_loss")}
        for v, rs in runs.items()
    }
    targets = []
    for base, want in (("trl_nopack", 3.5), ("trl_pack", 3.0)):
        if base in runs and "lmforge" in runs:
            ratio = harness.paired_ratio(runs, "wall_s", base, "lmforge")  # their time / ours
            summary[f"speedup_vs_{base}"] = ratio
            targets.append((f"whole-process time vs {base}", f">= {want}x", ratio, ratio["median"] >= want))
    if "trl_pack" in runs and "lmforge" in runs:
        rss = harness.paired_ratio(runs, "peak_rss_mb", "lmforge", "trl_pack")
        summary["rss_vs_trl_pack"] = rss
        targets.append(("peak RSS vs trl_pack", "<= 0.5x", rss, rss["median"] <= 0.5))
    note = (
        f"{n_train} Chit Chat dialogues (+{n_val} val), batch 8, max length 256, 1 epoch, {reps} rep(s), "
        f"malloc {params['malloc']}; last rep: " + "; ".join(_phase_line(v, rs[-1]) for v, rs in runs.items())
    )
    if record:
        harness.save("train_whole", params, runs, summary, targets, note)
    else:
        print(note)
        (work / "runs.json").write_text(json.dumps(runs, indent=1, default=str), encoding="utf-8")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=608)
    ap.add_argument("--val", type=int, default=64)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--work", default="runs/bench/train_whole")
    ap.add_argument("--no-record", action="store_true", help="print the row, do not append it to RESULTS.md")
    ap.add_argument("--lmforge-set", nargs="*", default=[], metavar="KEY=VALUE", help="train.KEY for lmforge")
    a = ap.parse_args()
    extra = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in a.lmforge_set)}
    summary = bench_whole(a.train, a.val, a.reps, Path(a.work).resolve(), a.variants, not a.no_record, extra)
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
