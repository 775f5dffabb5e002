"""CLI handlers that take the parsed arguments and call the library functions."""

from __future__ import annotations

import argparse

from lmforge.generate import generate as generate_batch
from lmforge.generate import load_for_inference


def show_config(args: argparse.Namespace) -> int:
    """`lmforge config EXP.yaml [k=v ...]`: the full config as lmforge will run it."""
    import yaml

    from lmforge.config import load_config

    print(yaml.safe_dump(load_config(args.config, args.overrides).to_dict(), sort_keys=False), end="")
    return 0


def generate(args: argparse.Namespace) -> int:
    """`lmforge generate --model M "prompt"`: print the model's answer."""
    model, tokenizer = load_for_inference(args.model, args.trust_remote_code)
    out = generate_batch(
        model,
        tokenizer,
        [args.prompt],
        raw=args.raw,
        system=args.system,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
    )[0]
    print(out.text)
    return 0


def chat(args: argparse.Namespace) -> int:
    """`lmforge chat --model M`: interactive, streamed, with history; /reset clears it, /exit leaves."""
    from transformers import TextStreamer

    model, tokenizer = load_for_inference(args.model, args.trust_remote_code)
    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    history: list[dict[str, str]] = []
    print("chat with", args.model, "- /reset clears the history, /exit leaves")
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if line in ("/exit", "/quit"):
            return 0
        if line == "/reset":
            history.clear()
            print("(history cleared)")
            continue
        if not line:
            continue
        history.append({"role": "user", "content": line})
        print("model> ", end="", flush=True)
        out = generate_batch(
            model,
            tokenizer,
            [history],
            system=args.system,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            streamer=streamer,
        )[0]
        history.append({"role": "assistant", "content": out.text})
