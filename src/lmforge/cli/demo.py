"""`lmforge demo`: raw, messy support chats -> clean data -> LoRA fine-tune -> proof that it got better.

It runs the experiment in examples/support-bot/ into `runs/demo/`: prepare (the funnel), inspect, train
(LoRA on the built-in model), eval (base vs fine-tuned on the held-out test split), sample generations before
and after, and the HTML report. Outside a checkout (a plain `pip install`) the same example is written from
the package (`demo_data.write_example`) into `runs/demo/example/`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from lmforge.errors import RunFailed, UserError

REPO_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "support-bot"
OUT = Path("runs/demo")


def find_example(folder: str | None = None, out: Path = OUT) -> Path:
    """The support-bot example: the given folder, ./examples/support-bot, the one in this checkout, or else
    (a plain `pip install`) the package's copy, written into out/example: the same bytes as the checkout's.
    From an empty folder outside a checkout:

    >>> find_example()  # doctest: +SKIP
    PosixPath('runs/demo/example')
    """
    if folder:
        if not (Path(folder) / "exp.yaml").is_file():
            raise UserError(f"--example {folder}: no exp.yaml in that folder")
        return Path(folder)
    for candidate in (Path("examples/support-bot"), REPO_EXAMPLE):
        if (candidate / "exp.yaml").is_file():
            return candidate
    from lmforge.cli.demo_data import write_example

    write_example(out / "example")  # rewritten every run: a stale copy from an older lmforge never runs
    return out / "example"


def _clear(out: Path, keep: Path) -> None:
    """Empty the demo's own folder so that a rerun starts clean, but keep the example written into it."""
    for child in out.iterdir() if out.is_dir() else []:
        if child.resolve() == keep.resolve():
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def demo(example: str | None = None, out: Path = OUT, overrides: list[str] | None = None) -> dict[str, Any]:
    """Run the whole quickstart; returns the eval dict. Raises RunFailed when the fine-tune is not better."""
    from lmforge import api
    from lmforge.cli.handlers import format_table
    from lmforge.config import load_config
    from lmforge.formatting.preflight import format_report
    from lmforge.reporting.render import write_report_safely

    folder = find_example(example, out)
    cfg = load_config(
        folder / "exp.yaml",
        [f"data.output_dir={out / 'data'}", f"train.output_dir={out}", *(overrides or [])],
    )
    _clear(out, keep=folder)
    t0 = time.perf_counter()
    _banner(1, f"prepare: {folder / 'raw'} -> {out / 'data'}")
    api.prepare(cfg)
    _banner(2, "inspect: what the model will see")
    print(format_report(api.inspect(cfg)))
    method = f"LoRA r={cfg.model.lora.r}" if cfg.model.lora else "full fine-tune"
    _banner(3, f"train: {method} of {cfg.model.name} ({cfg.train.precision} precision)")
    api.train(cfg)
    _banner(4, f"eval: base vs fine-tuned on the {cfg.eval.split} split")
    result = api.evaluate(cfg)
    print(format_table(result))
    _banner(5, "sample generations, before and after")
    _show_samples(out / "samples.jsonl")
    report = write_report_safely(str(out))
    _verdict(result)
    from lmforge.evaluation.general import check_drop

    check_drop(result, cfg.eval.max_general_drop)  # the general-ability probes, as `lmforge eval` checks
    _where(out, report, time.perf_counter() - t0, folder)
    return result


def _verdict(result: dict[str, Any]) -> None:
    from lmforge.evaluation.metrics import records_behind

    base, tuned = result["base"], result["finetuned"]
    better_loss = tuned["loss"] < base["loss"]
    better_rouge = tuned.get("rouge_l", 0.0) > base.get("rouge_l", 0.0)
    n = records_behind(result, "rouge_l")  # eval.generate_n of them when set
    print(
        f"\nfine-tuned vs base on {result['records']} held-out records: loss {base['loss']:.3f} -> "
        f"{tuned['loss']:.3f}; on {n} records ROUGE-L {base.get('rouge_l', 0):.3f} -> "
        f"{tuned.get('rouge_l', 0):.3f}, stops with EOS {base.get('eos_rate', 0):.0%} -> "
        f"{tuned.get('eos_rate', 0):.0%}"
    )
    if not (better_loss and better_rouge):
        raise RunFailed("the fine-tuned model is not better than the base on both loss and ROUGE-L")
    print("the fine-tuned model is better: lower loss and higher ROUGE-L")


def _show_samples(path: Path, n: int = 3) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:n]]
    for row in rows:
        print(f"\nuser:       {row['prompt']}")
        print(f"base:       {_clip(row['base'])}")
        print(f"fine-tuned: {_clip(row['finetuned'])}")


def _clip(text: str, width: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _banner(n: int, title: str) -> None:
    print(f"\n=== {n}/5 {title}", flush=True)


def _where(out: Path, report: Path | None, seconds: float, folder: Path) -> None:
    exp = folder / "exp.yaml"
    print(f"\ndone in {seconds / 60:.1f} min. Everything is in {out}/:")
    print(
        f"  {out}/data/        train/val/test.jsonl, rejects.jsonl (every dropped record and why), stats.json"
    )
    print(f"  {out}/final/       the LoRA adapter + tokenizer; {out}/metrics.jsonl; {out}/tensorboard/")
    print(f"  {out}/eval.json    base vs fine-tuned; {report or out / 'report.html'} (open in a browser)")
    print("next:")
    print(f'  lmforge generate --model {out} "How do I reset my password?"')
    print(f"  lmforge chat --model {out}")
    print(f"  lmforge export {out} --out {out}/merged --merge")
    print(f"  lmforge tune {exp} tune.n_trials=3 train.max_steps=20")


def demo_cli(args: argparse.Namespace) -> int:
    """`lmforge demo [--example DIR] [k=v ...]`."""
    demo(args.example, OUT, args.overrides)
    return 0
