"""Held-out BFCL questions sent to a model, its tool calls scored by BFCL's checker (bench/bfcl.py).

`score_served`: a real `lmforge serve` process on a loopback port, asked with the official `openai` client
(`tools=[the question's function]`, `temperature=0`), `clients` threads at a time (the server batches them).
`score_generated`: the fallback without serve's tool support: the same prompt (the chat template with the
tools, what serve renders), greedy `lmforge.inference.generation.generate` in this process, the reply parsed
by `lmforge.formatting.tool_parse.parse_assistant` (what serve parses with).
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from typing import Any

from bench import bfcl


def judge(item: dict[str, Any], calls: list[dict[str, Any]], content: str | None) -> dict[str, Any]:
    """One reply's verdict: `right` (exactly one call, accepted by BFCL's checker), `valid` (calls whose
    arguments are JSON objects), and the checker's error.

    >>> it = bfcl.items("simple_python")[1]
    >>> judge(it, [{"name": "math_factorial", "arguments": '{"number": 5}'}], None)["right"]
    True
    """
    args = []
    for call in calls:
        try:
            parsed = json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError:
            parsed = None
        args.append(parsed if isinstance(parsed, dict) else None)
    valid = bool(calls) and all(a is not None for a in args)
    if not calls:
        error = "no tool call"
    elif len(calls) > 1:
        error = f"{len(calls)} calls"
    elif not valid:
        error = "arguments are not a JSON object"
    else:
        error = bfcl.check_call(item, calls[0]["name"], args[0])
    got = [{"name": c["name"], "arguments": c["arguments"]} for c in calls]
    return {
        "id": item["id"],
        "right": error is None,
        "valid": valid,
        "error": error,
        "calls": got,
        "content": content,
    }


def summary(rows: list[dict[str, Any]], seconds: float, via: str) -> dict[str, Any]:
    n = len(rows)
    failures = [r for r in rows if not r["right"]]
    sample = random.Random(0).sample(failures, min(10, len(failures)))
    return {
        "via": via,
        "n": n,
        "right": sum(r["right"] for r in rows),
        "accuracy": sum(r["right"] for r in rows) / n if n else 0.0,
        "valid": sum(r["valid"] for r in rows),
        "valid_rate": sum(r["valid"] for r in rows) / n if n else 0.0,
        "no_call": sum(not r["calls"] for r in rows),
        "seconds": seconds,
        "failures_sample": sample,
        "rows": rows,
    }


def _question(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in record["messages"] if m["role"] != "assistant"]


def score_served(
    model: str, held: list[dict[str, Any]], items: dict[str, Any], p: dict[str, Any]
) -> dict[str, Any]:
    """Serve `model` with `lmforge serve`, ask every held-out question through the openai client."""
    import openai

    from bench.serve import _start_server

    proc, url = _start_server(model, max_batch=p["clients"], window_ms=20)
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=900)
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(held)):
            todo.put(i)
        rows: dict[int, dict[str, Any]] = {}

        def ask() -> None:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                rec = held[i]
                r = client.chat.completions.create(
                    model="bench",
                    messages=_question(rec),
                    tools=rec["tools"],
                    temperature=0,
                    max_tokens=p["max_tokens"],
                )
                msg = r.choices[0].message
                calls = [
                    {"name": c.function.name, "arguments": c.function.arguments} for c in msg.tool_calls or []
                ]
                rows[i] = judge(items[rec["id"]], calls, msg.content)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=ask) for _ in range(p["clients"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if len(rows) != len(held):
        raise RuntimeError(f"{len(held) - len(rows)} requests failed (see the server's and clients' errors)")
    return summary([rows[i] for i in range(len(held))], seconds, "lmforge serve + openai client")


def score_generated(
    model: str, held: list[dict[str, Any]], items: dict[str, Any], p: dict[str, Any]
) -> dict[str, Any]:
    """The fallback: the same prompts generated in this process and parsed as serve parses them."""
    from lmforge.formatting.templates import encode_prompt, ensure_chat_template
    from lmforge.formatting.tool_parse import parse_assistant
    from lmforge.formatting.tool_template import prepare_template
    from lmforge.inference.generation import generate, load_for_inference

    mdl, tok = load_for_inference(model)
    prepare_template(ensure_chat_template(tok), tools=True)  # what serve does with a template without tools
    prompts = [encode_prompt(tok, _question(rec), tools=rec["tools"]) for rec in held]
    t0 = time.perf_counter()
    outs = generate(mdl, tok, prompts, max_new_tokens=p["max_tokens"], batch_size=p["clients"])
    seconds = time.perf_counter() - t0
    rows = []
    for rec, out in zip(held, outs, strict=True):
        reply = parse_assistant(out.text, tok.chat_template)
        calls = [c["function"] for c in reply.tool_calls]
        rows.append(judge(items[rec["id"]], calls, reply.content))
    return summary(rows, seconds, "in-process generate + parse_assistant (not through serve)")
