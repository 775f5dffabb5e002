"""Serving: `lmforge serve` under concurrent clients vs the same requests one at a time with `model.generate`.

lmforge side: a real `lmforge serve` process; `clients` threads of the official openai client send the
`requests` chat requests (greedy, `max_tokens` each), each thread its next one as soon as the last returns.
Baseline: the same model (the same safetensors folder), the same prompts rendered by the same chat template,
one transformers `model.generate` call per request, one after another, in one process. Latency for the
baseline is reported twice: the service time of each call, and what `clients` clients sending back to back
would see from a server that runs one request at a time (a FIFO replay of the measured service times).
Both sides warm up with one request first. The answers are compared: greedy, so they should agree.

    python -m bench.serve --requests 32 --clients 8 --max-tokens 32 --reps 2
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from bench import harness
from bench.corpus import sft_records


def _messages(p: dict[str, Any]) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": r["prompt"]}] for r in sft_records(p["requests"], seed=3)]


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile: [1, 2, 3, 4] at 0.5 -> 2."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(q * len(ordered) + 0.5)) - 1))]


def _result(wall: float, latencies: list[float], tokens: list[int], texts: list[str]) -> dict[str, Any]:
    return {
        "seconds": wall,
        "requests_per_s": len(latencies) / wall,
        "tokens_per_s": sum(tokens) / wall,
        "p50_s": _quantile(latencies, 0.5),
        "p95_s": _quantile(latencies, 0.95),
        "completion_tokens": sum(tokens),
        "texts": texts,
    }


def _start_server(model: str, max_batch: int, window_ms: float) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "lmforge.cli", "serve", model, "--port", str(port), "--name", "bench"]
    cmd += ["--max-batch", str(max_batch), "--batch-window-ms", str(window_ms), "--log-level", "warning"]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"lmforge serve did not come up (exit {proc.poll()})")


def run_serve(p: dict[str, Any]) -> dict[str, Any]:
    import httpx
    import openai

    proc, url = _start_server(p["model"], p["max_batch"], p["window_ms"])
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=600)
        kw = {"model": "bench", "max_tokens": p["max_tokens"], "temperature": 0}
        client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], **kw)  # warm-up
        todo: queue.Queue[int] = queue.Queue()
        for i in range(p["requests"]):
            todo.put(i)
        messages = _messages(p)
        out: dict[int, tuple[float, int, str]] = {}

        def client_loop() -> None:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                r = client.chat.completions.create(messages=messages[i], **kw)
                out[i] = (time.perf_counter() - t0, r.usage.completion_tokens, r.choices[0].message.content)

        threads = [threading.Thread(target=client_loop) for _ in range(p["clients"])]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        health = httpx.get(f"{url}/health", timeout=5).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = [out[i] for i in range(p["requests"])]
    res = _result(wall, [r[0] for r in rows], [r[1] for r in rows], [r[2].strip() for r in rows])
    res["batches"] = health["batches"] - 1  # less the warm-up's
    res["largest_batch"] = health["largest_batch"]
    return res


def run_hf(p: dict[str, Any]) -> dict[str, Any]:
    import torch

    from lmforge.formatting.templates import encode_prompt
    from lmforge.inference.generation import eos_ids, load_for_inference
    from lmforge.models import pad_token_id

    model, tok = load_for_inference(p["model"])
    model.eval()
    stops, pad = eos_ids(model, tok), pad_token_id(tok, model)

    def one(messages: list[dict[str, str]]) -> tuple[float, int, str]:
        ids = torch.tensor([encode_prompt(tok, messages)])
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=p["max_tokens"],
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                eos_token_id=stops,
                pad_token_id=pad,
            )
        new = out[0, ids.shape[1] :].tolist()
        return time.perf_counter() - t0, len(new), tok.decode(new, skip_special_tokens=True).strip()

    one([{"role": "user", "content": "Hi"}])  # warm-up
    t0 = time.perf_counter()
    rows = [one(m) for m in _messages(p)]
    wall = time.perf_counter() - t0
    service = [r[0] for r in rows]
    res = _result(wall, service, [r[1] for r in rows], [r[2] for r in rows])
    queued = fifo_latencies(service, p["clients"])
    res["queued_p50_s"], res["queued_p95_s"] = _quantile(queued, 0.5), _quantile(queued, 0.95)
    return res


VARIANTS = {"lmforge_serve": run_serve, "hf_generate": run_hf}


def fifo_latencies(service: list[float], clients: int) -> list[float]:
    """Latency each request would see from a one-at-a-time server, `clients` clients sending back to back.

    >>> fifo_latencies([1.0, 1.0, 1.0], 2)  # two start together; the third waits for the first
    [1.0, 2.0, 2.0]
    """
    ready, free_at, out = [0.0] * clients, 0.0, []
    for s in service:
        c = min(range(clients), key=ready.__getitem__)
        start = max(ready[c], free_at)
        free_at = start + s
        out.append(free_at - ready[c])
        ready[c] = free_at
    return out


def bench_serve(
    model: str,
    requests: int,
    clients: int,
    max_tokens: int,
    reps: int,
    max_batch: int = 16,
    window_ms: float = 50.0,
    smoke: bool = False,
) -> dict:
    params = {"model": model, "requests": requests, "clients": clients, "max_tokens": max_tokens}
    params.update({"max_batch": max_batch, "window_ms": window_ms, "smoke": smoke})
    runs = harness.interleave("serve", list(VARIANTS), params, reps)
    keys = ("requests_per_s", "tokens_per_s", "p50_s", "p95_s", "peak_rss_mb")
    summary: dict[str, Any] = {
        v: {k: harness.summarize([r[k] for r in rs]) for k in keys} for v, rs in runs.items()
    }
    for k in ("queued_p50_s", "queued_p95_s"):
        summary["hf_generate"][k] = harness.summarize([r[k] for r in runs["hf_generate"]])
    agree = [
        sum(a == b for a, b in zip(s["texts"], h["texts"], strict=True)) / requests
        for s, h in zip(runs["lmforge_serve"], runs["hf_generate"], strict=True)
    ]
    summary["answers_equal"] = harness.summarize(agree)
    ratio = harness.paired_ratio(runs, "requests_per_s", "lmforge_serve", "hf_generate")
    summary["speedup_vs_hf_generate"] = ratio
    s, b = summary["lmforge_serve"], summary["hf_generate"]
    note = (
        f"{requests} chat requests from {clients} clients, max_tokens {max_tokens}, greedy, --max-batch "
        f"{max_batch}, --batch-window-ms {window_ms:g}, {reps} reps; req/s {harness.fmt(s['requests_per_s'])} vs {harness.fmt(b['requests_per_s'])}; "
        f"tok/s {s['tokens_per_s']['median']:.1f} vs {b['tokens_per_s']['median']:.1f}; latency p50/p95 s "
        f"{s['p50_s']['median']:.2f}/{s['p95_s']['median']:.2f} vs one-at-a-time service "
        f"{b['p50_s']['median']:.2f}/{b['p95_s']['median']:.2f} (queued behind {clients} clients "
        f"{b['queued_p50_s']['median']:.2f}/{b['queued_p95_s']['median']:.2f}); answers equal "
        f"{summary['answers_equal']['median']:.0%}; largest batch {runs['lmforge_serve'][-1]['largest_batch']}; "
        f"peak RSS MB {s['peak_rss_mb']['median']:.0f} vs {b['peak_rss_mb']['median']:.0f}"
    )
    target = ("requests/s vs one-at-a-time generate", ">= 2x", ratio, ratio["median"] >= 2)
    harness.save("serve", params, runs, summary, [target], note)
    print(table(summary))
    return summary


def table(summary: dict) -> str:
    """The printed comparison, one row per side."""
    lines = ["| side | req/s | tok/s | p50 s | p95 s |", "|---|---|---|---|---|"]
    for side in ("lmforge_serve", "hf_generate"):
        s = summary[side]
        lines.append(
            f"| {side} | {s['requests_per_s']['median']:.2f} | {s['tokens_per_s']['median']:.1f} | "
            f"{s['p50_s']['median']:.2f} | {s['p95_s']['median']:.2f} |"
        )
    b = summary["hf_generate"]
    lines.append(
        f"| hf_generate, queued behind the clients | | | {b['queued_p50_s']['median']:.2f} | "
        f"{b['queued_p95_s']['median']:.2f} |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--window-ms", type=float, default=50.0, help="the server's --batch-window-ms")
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    s = bench_serve(a.model, a.requests, a.clients, a.max_tokens, a.reps, a.max_batch, a.window_ms)
    print(json.dumps(s, indent=1, default=str))


if __name__ == "__main__":
    main()
