"""`lmforge serve MODEL`: the OpenAI-compatible HTTP API (inference/server.py) from the command line."""

from __future__ import annotations

import argparse
import os
import sys


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        metavar="MODEL",
        help="run folder, model folder (final/, exported), adapter, alias, .gguf or hub id",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="default: %(default)s; 0 picks a free port")
    p.add_argument(
        "--api-key",
        default=os.environ.get("LMFORGE_API_KEY") or None,
        help="require `Authorization: Bearer KEY` on /v1 (default: $LMFORGE_API_KEY, which keeps the key "
        "out of `ps`; else no key). A --host other than loopback needs a key or --insecure-open",
    )
    p.add_argument(
        "--insecure-open",
        action="store_true",
        help="serve a non-loopback --host without a key, to anyone who reaches it (no Host check either)",
    )
    p.add_argument("--name", default=None, help="model id clients send and /v1/models lists (default: MODEL)")
    p.add_argument(
        "--max-batch", type=int, default=16, help="most sequences generated together (default: %(default)s)"
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=64,
        help="requests waiting beyond this get 503 (default: %(default)s)",
    )
    p.add_argument(
        "--batch-window-ms",
        type=float,
        default=50.0,
        help="how long a batch waits for company (default: %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds per request, queue included (default: %(default)s)",
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        default=512,
        help="chat max_tokens when a request names none (default: %(default)s)",
    )
    p.add_argument(
        "--max-tokens-limit",
        type=int,
        default=4096,
        help="largest max_tokens a request may ask for; more is a 400 (default: %(default)s)",
    )
    p.add_argument(
        "--max-body-mb",
        type=float,
        default=4.0,
        help="largest request body in MiB; more is a 413 (default: %(default)s)",
    )
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; bad numbers are usage errors (exit 2) before anything loads."""
    from lmforge.errors import UserError
    from lmforge.inference.server import serve

    for flag, value, low in (
        ("--max-batch", args.max_batch, 1),
        ("--max-queue", args.max_queue, 1),
        ("--max-tokens", args.max_tokens, 1),
        ("--max-tokens-limit", args.max_tokens_limit, 1),
        ("--port", args.port, 0),
    ):
        if value < low:
            raise UserError(f"{flag} must be >= {low}, got {value}")
    if not args.max_body_mb * (1 << 20) >= 1024:  # also refuses NaN
        raise UserError(f"--max-body-mb must be at least 1 KiB, got {args.max_body_mb}")
    if args.api_key and args.api_key != os.environ.get("LMFORGE_API_KEY"):
        print(
            "note: a key given with --api-key shows in `ps` to every user of this machine; "
            "set LMFORGE_API_KEY instead",
            file=sys.stderr,
        )
    serve(
        args.model,
        args.host,
        args.port,
        args.api_key,
        name=args.name,
        max_batch=args.max_batch,
        max_queue=args.max_queue,
        window_ms=args.batch_window_ms,
        timeout_s=args.timeout,
        default_max_tokens=args.max_tokens,
        max_tokens_limit=args.max_tokens_limit,
        max_body=int(min(args.max_body_mb, 1 << 20) * (1 << 20)),
        insecure_open=args.insecure_open,
        trust_remote_code=args.trust_remote_code,
        log_level=args.log_level,
    )
    return 0
