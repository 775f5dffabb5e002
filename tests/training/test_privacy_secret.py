"""train.privacy's secret randomness (#29): the Poisson draws and the Gaussian noise come from a per-run
secret drawn from the OS, not from the seed that ships in final/lmforge.json; the secret is kept only in
checkpoints (so kill -9 and resume is exact) and never reaches final/, metrics, config or trackers."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import fake_examples, make_cfg, stand_in_collate

from lmforge.training.privacy import poisson_sample
from lmforge.training.run import train

SCRIPT = Path(__file__).parent / "privacy_script.py"


def _files_outside_checkpoints(run_dir: Path) -> list[Path]:
    return [
        f for f in run_dir.rglob("*") if f.is_file() and "checkpoints" not in f.relative_to(run_dir).parts
    ]


def test_noise_comes_from_a_secret_kept_only_in_checkpoints(tiny_llama, tmp_path):
    # 8 records, batch 4 x accum 2: q = 1, every unit is drawn every step, so only the noise can differ
    extra = ("train.privacy.noise_multiplier=1.0", "train.save_every=4", "model.lora.dropout=0")
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        cfg = make_cfg(
            tiny_llama, str(out), "train.max_steps=6", "train.lr=1e-3", "train.grad_accum=2", *extra
        )
        train(cfg, data=(fake_examples(8, vocab=250, seed=5), []), collate=stand_in_collate)
    a, b = (load_file(str(out / "final" / "adapter_model.safetensors")) for out in runs)
    assert not any(torch.equal(a[k], b[k]) for k in a)  # same seed, same batches: the noise differs

    saved = runs[0] / "checkpoints" / "step-4"
    secret = (saved / "dp_secret.bin").read_bytes()
    assert len(secret) == 32 and secret != (runs[1] / "checkpoints" / "step-4" / "dp_secret.bin").read_bytes()
    assert (saved / "dp_secret.bin").stat().st_mode & 0o077 == 0  # owner-only
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]
    shared = _files_outside_checkpoints(runs[0]) + [saved / "state.json", saved / "config.yaml"]
    assert any(f.parent.name == "final" for f in shared) and any(f.name == "metrics.jsonl" for f in shared)
    for f in shared:  # final/, metrics.jsonl, config.yaml, lmforge.json, trackers' files
        data = f.read_bytes()
        assert not any(form in data for form in forms), f


def test_poisson_sampling_rate_and_determinism():
    n, q, steps = 60, 0.1, 3000
    hits = torch.zeros(n)
    sizes = []
    secret, other = bytes(range(32)), bytes(range(1, 33))
    for w in range(steps):
        drawn = poisson_sample(n, q, secret, epoch=w // 100, window=w % 100)
        hits[drawn] += 1
        sizes.append(len(drawn))
    sizes_t = torch.tensor(sizes, dtype=torch.float64)
    # each unit's inclusion rate ~ q (binomial sd = sqrt(q (1-q) / steps) ~ 0.0055)
    assert (hits / steps - q).abs().max() < 6 * (q * (1 - q) / steps) ** 0.5
    assert sizes_t.mean() == pytest.approx(n * q, rel=0.03)
    assert sizes_t.var() == pytest.approx(n * q * (1 - q), rel=0.15)  # Poisson sampling: the batch varies
    assert poisson_sample(n, q, secret, 0, 5) == poisson_sample(n, q, secret, 0, 5)  # a resume re-derives it
    assert poisson_sample(n, q, secret, 0, 5) != poisson_sample(n, q, other, 0, 5)
    assert poisson_sample(n, q, secret, 0, 5) != poisson_sample(n, q, secret, 1, 5)


def _spawn(model: str, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), model, str(out), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_kill9_then_resume_keeps_the_accountant_the_secret_and_the_weights(tiny_llama, tmp_path):
    secret = os.urandom(32)  # the reference shares the killed run's secret, so the adapters compare
    reference = _spawn(tiny_llama, tmp_path / "ref", "--secret", secret.hex())
    killed = _spawn(tiny_llama, tmp_path / "run", "--slow-after", "6", "--secret", secret.hex())
    marker = tmp_path / "run" / "checkpoints" / "step-6"
    deadline = time.time() + 180
    while not marker.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), killed.stderr.read()
    os.killpg(killed.pid, signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    saved = json.loads((marker / "state.json").read_text())["privacy_history"]
    assert saved[0][2] == 6  # the accountant's history: 6 steps at one (sigma, q)
    assert (marker / "dp_secret.bin").read_bytes() == secret
    assert secret.hex() not in (marker / "state.json").read_text()
    resumed = _spawn(tiny_llama, tmp_path / "run", "--resume")  # no --secret: it must come from step-6
    assert resumed.wait() == 0, resumed.stderr.read()
    assert reference.wait() == 0, reference.stderr.read()
    ref = load_file(str(tmp_path / "ref" / "final" / "adapter_model.safetensors"))
    got = load_file(str(tmp_path / "run" / "final" / "adapter_model.safetensors"))
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    meta = [json.loads((tmp_path / d / "final" / "lmforge.json").read_text()) for d in ("ref", "run")]
    assert meta[0]["privacy"] == meta[1]["privacy"] and meta[1]["metrics"]["steps"] == 12
