"""`lmforge generate` and `lmforge chat`: a model answers with its own chat template."""

from __future__ import annotations

import argparse


def generate(args: argparse.Namespace) -> int:
    """`lmforge generate --model M "prompt"`: print the model's answer."""
    from lmforge.inference.generation import generate as generate_batch
    from lmforge.inference.generation import load_for_inference

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

    from lmforge.inference.generation import generate as generate_batch
    from lmforge.inference.generation import load_for_inference

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
