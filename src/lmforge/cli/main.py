"""`lmforge <command>`: a table from subcommand to function; arguments are declared next to each entry."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lmforge.cli import demo, doctor, handlers, interactive, serve
from lmforge.errors import RunFailed, UserError, crash_line


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML")
    p.add_argument("overrides", nargs="*", metavar="k=v", help="dotted overrides, e.g. train.lr=1e-4")


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", help="the user message")
    _model_arg(p)
    p.add_argument("--raw", action="store_true", help="no chat template: continue the text as given")
    p.add_argument("--system", default=None, help="system message")
    _sampling_args(p)


def _chat_args(p: argparse.ArgumentParser) -> None:
    _model_arg(p)
    p.add_argument("--system", default=None, help="system message")
    _sampling_args(p)


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default="smollm2-135m-instruct",
        help="alias, model folder, .gguf file, run folder, or hub id (default: %(default)s)",
    )
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")


def _sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", metavar="k=v", help="dotted overrides, e.g. train.max_steps=10")
    p.add_argument("--example", default=None, help="example folder (default: examples/support-bot)")


def _no_args(p: argparse.ArgumentParser) -> None:
    pass


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="train or data output folder")
    p.add_argument("--out", default=None, help="HTML file to write (default: RUN_DIR/report.html)")


def _train_args(p: argparse.ArgumentParser) -> None:
    _config_args(p)
    p.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in train.output_dir"
    )


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN", help="train output folder (or its final/ model folder)")


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="train output folder (or a final/ model folder)")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--merge", action="store_true", help="merge a LoRA adapter into full safetensors weights")
    p.add_argument(
        "--format",
        choices=["hf", "gguf"],
        default="hf",
        help="hf: a transformers folder; gguf: DIR/model.gguf + DIR/Modelfile for llama.cpp / Ollama (merged)",
    )
    p.add_argument("--quant", choices=["f16", "q8_0"], default=None, help="GGUF weight type (default f16)")


def _eval_args(p: argparse.ArgumentParser) -> None:
    _config_args(p)
    p.add_argument("--model", default=None, help="fine-tuned model folder (default: train.output_dir/final)")
    p.add_argument("--split", choices=["val", "test"], default=None, help="default: eval.split (test)")


def _predict_args(p: argparse.ArgumentParser) -> None:
    _config_args(p)
    p.add_argument("--input", required=True, help="jsonl of records with the task's fields")
    p.add_argument("--output", required=True, help="jsonl to write: each record plus its prediction")
    p.add_argument("--model", default=None, help="model folder (default: train.output_dir/final)")


# name -> (help, arguments, handler called with the parsed namespace); the handlers import their stage on call
COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {
    "config": (
        "print the resolved experiment config (defaults filled in, overrides applied)",
        _config_args,
        handlers.show_config,
    ),
    "generate": ("one-shot generation with the model's chat template", _generate_args, interactive.generate),
    "chat": ("interactive chat (/reset, /exit)", _chat_args, interactive.chat),
    "prepare": ("read, clean, filter, dedup and split data", _config_args, handlers.prepare),
    "inspect": ("pre-flight checks of the tokenised training data", _config_args, handlers.inspect),
    "doctor": ("environment report", _no_args, doctor.doctor_cli),
    "demo": ("the quickstart that `make demo` runs, end to end", _demo_args, demo.demo_cli),
    "report": ("self-contained HTML report of a run folder", _report_args, handlers.report),
    "train": ("fine-tune (full or LoRA); --resume continues the run", _train_args, handlers.train),
    "eval": ("task metrics of base vs fine-tuned on val/test", _eval_args, handlers.evaluate),
    "predict": ("batch predictions, jsonl in, jsonl out", _predict_args, handlers.predict),
    "tune": ("hyper-parameter search (Optuna, pruning, resumable)", _config_args, handlers.tune),
    "export": ("model folder loadable anywhere; --merge folds LoRA in", _export_args, handlers.export),
    "verify": ("re-hash a run's data, config, base and parent adapters", _verify_args, handlers.verify),
    "serve": ("OpenAI-compatible HTTP API (chat, completions, streaming)", serve.add_args, serve.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmforge", description="Prepare data, fine-tune and evaluate LLMs.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (help_text, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # bad usage: argparse prints usage and exits 2
    if not args.command:
        parser.print_help()
        return 2
    try:
        result = COMMANDS[args.command][2](args)
        return int(result or 0)
    except UserError as e:
        print(f"lmforge {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except RunFailed as e:
        print(f"lmforge {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"lmforge {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the last resort: one line and exit 1, the traceback in a log file
        print(crash_line(args.command, e), file=sys.stderr)
        return 1
