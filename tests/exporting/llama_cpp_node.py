"""llama.cpp itself for the GGUF export tests, through npm's node-llama-cpp (prebuilt llama.cpp for linux-x64,
no compiler): `make llama` installs it into .venv/share/llama, and `make test` depends on that.

Missing node or node-llama-cpp fails the test, so CI cannot pass without llama.cpp having run; set
LMFORGE_SKIP_LLAMA_CPP=1 to skip these tests on a machine without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

SCRIPT = Path(__file__).with_name("llama_cpp_run.mjs")
PACKAGE = Path(sys.prefix) / "share" / "llama" / "node_modules" / "node-llama-cpp"
TREE = Path(sys.prefix) / "share" / "llama" / "llama.cpp"  # convert_hf_to_gguf.py and its packages


def node_llama_cpp() -> tuple[str, Path]:
    """(node, the node-llama-cpp package folder), or the test fails (skips with LMFORGE_SKIP_LLAMA_CPP=1)."""
    node = shutil.which("node")
    package = Path(os.environ.get("LMFORGE_NODE_LLAMA_CPP", PACKAGE))
    if node and (package / "package.json").is_file():
        return node, package
    _missing("node" if not node else f"node-llama-cpp in {package}")


def converter() -> Path:
    """llama.cpp's convert_hf_to_gguf.py (from the source node-llama-cpp ships, or LMFORGE_LLAMA_CPP's tree)."""
    script = Path(os.environ.get("LMFORGE_LLAMA_CPP", TREE)) / "convert_hf_to_gguf.py"
    if not script.is_file():
        _missing(str(script))
    return script


def _missing(what: str) -> NoReturn:
    if os.environ.get("LMFORGE_SKIP_LLAMA_CPP") == "1":
        pytest.skip(f"LMFORGE_SKIP_LLAMA_CPP=1 and no {what}")
    pytest.fail(f"no {what}: run `make llama` (or set LMFORGE_SKIP_LLAMA_CPP=1 to skip)", pytrace=False)


def run_llama_cpp(
    gguf: str | Path,
    prompts: list[list[int]] | list[list[dict]] = (),
    max_new_tokens: int = 16,
    logits: bool = False,
    score: list[tuple[int, list[int]]] = (),
) -> dict:
    """llama.cpp's greedy answers to `prompts` (token ids, or conversations rendered with the GGUF's own
    chat template) and, per (start, ids) of `score`, its argmax after each of ids[start - 1 : -1].

    >>> run_llama_cpp("out/model.gguf", [[5, 17, 42]], max_new_tokens=2)["generations"][0]["tokens"]  # doctest: +SKIP
    [311, 9]
    """
    node, package = node_llama_cpp()
    request = {
        "model": str(gguf),
        "max_new_tokens": max_new_tokens,
        "logits": logits,
        "prompts": [{"tokens": p} if p and isinstance(p[0], int) else {"messages": p} for p in prompts],
        "score": [{"start": start, "tokens": ids} for start, ids in score],
    }
    done = subprocess.run(
        [node, str(SCRIPT), str(package)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
