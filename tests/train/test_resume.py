"""Exact resume: a run killed with SIGKILL after a checkpoint, then resumed, ends with the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).parent / "resume_script.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(model: str, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), model, str(out), *extra],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill9_then_resume_equals_uninterrupted(tiny_model, tmp_path):
    reference = _run(tiny_model, tmp_path / "ref")
    killed = _run(tiny_model, tmp_path / "run", "--slow-after", "6")
    marker = tmp_path / "run" / "checkpoints" / "step-6"
    deadline = time.time() + 120
    while not marker.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), killed.stderr.read()
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not (tmp_path / "run" / "final").exists()

    resumed = _run(tiny_model, tmp_path / "run", "--resume")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert reference.wait() == 0, reference.stderr.read()

    ref = load_file(str(tmp_path / "ref" / "final" / "adapter_model.safetensors"))
    got = load_file(str(tmp_path / "run" / "final" / "adapter_model.safetensors"))
    assert ref.keys() == got.keys() and ref
    for name in ref:
        assert torch.equal(ref[name], got[name]), name
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == list(
        range(13)
    )  # each step once (0: baseline val); rows logged after step-6 by the killed run dropped
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert kept == ["step-6", "step-9"]  # keep: 2
