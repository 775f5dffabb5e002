"""Exact resume: a run killed with SIGKILL after a checkpoint, then resumed, ends with the same weights."""

from __future__ import annotations

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

SCRIPT = Path(__file__).parent / "resume_script.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(model: str, out: Path, *extra: str, processes: int = 1, script: Path = SCRIPT) -> subprocess.Popen:
    launch = [sys.executable]
    if processes > 1:  # torchrun runs the script in every process; its own process group is killed whole
        launch += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return subprocess.Popen(
        [*launch, str(script), model, str(out), *extra],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _kill_after_checkpoint(proc: subprocess.Popen, marker: Path) -> None:
    deadline = time.time() + 180
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), proc.stderr.read()
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every training process
    assert proc.wait() == -signal.SIGKILL


def _assert_same_adapter(ref_dir: Path, got_dir: Path) -> None:
    ref = load_file(str(ref_dir / "final" / "adapter_model.safetensors"))
    got = load_file(str(got_dir / "final" / "adapter_model.safetensors"))
    assert ref.keys() == got.keys() and ref
    for name in ref:
        assert torch.equal(ref[name], got[name]), name


def test_kill9_then_resume_equals_uninterrupted(tiny_model, tmp_path):
    reference = _run(tiny_model, tmp_path / "ref")
    killed = _run(tiny_model, tmp_path / "run", "--slow-after", "6")
    _kill_after_checkpoint(killed, tmp_path / "run" / "checkpoints" / "step-6")
    assert not (tmp_path / "run" / "final").exists()

    resumed = _run(tiny_model, tmp_path / "run", "--resume")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert reference.wait() == 0, reference.stderr.read()

    _assert_same_adapter(tmp_path / "ref", tmp_path / "run")
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == list(
        range(13)
    )  # each step once (0: baseline val); rows logged after step-6 by the killed run dropped
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert kept == ["step-6", "step-9"]  # keep: 2


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_kill9_then_resume_equals_uninterrupted(tiny_llama, tmp_path, strategy):
    """The same with 2 processes: every rank's RNG, the sampler position and (FSDP) the gathered optimizer
    state come back; resumed with the same world size, the weights end bit-identical."""
    reference = _run(tiny_llama, tmp_path / "ref", "--distributed", strategy, processes=2)
    assert reference.wait() == 0, reference.stderr.read()[-3000:]  # one torch job at a time on 2 cores
    killed = _run(tiny_llama, tmp_path / "run", "--distributed", strategy, "--slow-after", "6", processes=2)
    _kill_after_checkpoint(killed, tmp_path / "run" / "checkpoints" / "step-6")
    resumed = _run(tiny_llama, tmp_path / "run", "--distributed", strategy, "--resume", processes=2)
    assert resumed.wait() == 0, resumed.stderr.read()[-3000:]
    _assert_same_adapter(tmp_path / "ref", tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "final" / "lmforge.json").read_text())
    assert (meta["processes"], meta["sharded"], meta["metrics"]["steps"]) == (2, strategy == "fsdp", 12)


# Points inside the save path where LMFORGE_FAULT kills the run (lmforge.atomic_files.fault_point): after a file
# of the second checkpoint (step-6), between the two renames of a checkpoint / best/ / final/ swap, and in the
# middle of a metrics.jsonl line.
FAULTS = [
    "checkpoint:trainable.safetensors@2",
    "checkpoint:optimizer.pt@2",
    "checkpoint:rng.pt@3",
    "checkpoint:swap@2",
    "best:swap",
    "final:swap",
    "metrics:half-line@7",
]


@pytest.fixture(scope="module")
def reference_run(tiny_llama, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "ref"
    proc = _run(tiny_llama, out)
    assert proc.wait() == 0, proc.stderr.read()
    return out


def _run_until_killed(model: str, out: Path, fault: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), model, str(out)],
        env={**ENV, "LMFORGE_FAULT": fault},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read()  # the fault point was reached


def _resume_to_the_end(model: str, out: Path) -> None:
    resume = ["--resume"] if any((out / "checkpoints").glob("step-*")) else []  # killed before any checkpoint
    proc = _run(model, out, *resume)
    assert proc.wait() == 0, proc.stderr.read()


@pytest.mark.parametrize("fault", FAULTS)
def test_kill_inside_a_write_then_resume_equals_uninterrupted(tiny_llama, tmp_path, reference_run, fault):
    out = tmp_path / "run"
    _run_until_killed(tiny_llama, out, fault)
    _resume_to_the_end(tiny_llama, out)
    _assert_same_adapter(reference_run, out)
    for name in ("best", "final"):  # whole model folders, no leftovers of a killed swap
        assert (out / name / "adapter_model.safetensors").is_file()
    assert not list(out.glob(".tmp-*")) + list(out.glob(".old-*"))
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(13))


def test_kill_at_random_moments_then_resume_equals_uninterrupted(tiny_llama, tmp_path, reference_run):
    """SIGKILL at seeded random times of a run (inside or between writes, wherever they fall)."""
    import random

    rng = random.Random(1234)
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        proc = _run(tiny_llama, out, "--slow-after", "0")  # 0.5 s per step: the kill lands mid-run
        time.sleep(rng.uniform(2.0, 7.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _resume_to_the_end(tiny_llama, out)
        _assert_same_adapter(reference_run, out)


def test_metrics_half_line_is_dropped_on_resume(tiny_llama, tmp_path):
    out = tmp_path / "run"
    _run_until_killed(tiny_llama, out, "metrics:half-line@8")
    assert not (out / "metrics.jsonl").read_text().endswith("\n")  # the kill left half a line
    proc = _run(tiny_llama, out, "--resume")
    assert proc.wait() == 0
    assert "dropped an incomplete line" in proc.stderr.read()


def test_checkpoint_files_load_without_unpickling_code(reference_run):
    for path in sorted((reference_run / "checkpoints").glob("step-*/*.pt")):
        torch.load(path, weights_only=True)  # raises on anything but tensors and plain containers
