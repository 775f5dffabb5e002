"""GRPO resumes exactly after kill -9: sampling draws from the checkpointed RNG, so the resumed run samples
the same completions, takes the same updates and ends with the same adapter as an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

from test_resume import _assert_same_adapter, _kill_after_checkpoint, _run

SCRIPT = Path(__file__).parent / "grpo_resume_script.py"


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_grpo_kill9_then_resume_equals_uninterrupted(tiny_llama, tmp_path):
    reference = _run(tiny_llama, tmp_path / "ref", script=SCRIPT)
    assert reference.wait() == 0, reference.stderr.read()[-3000:]  # one torch job at a time on 2 cores
    killed = _run(tiny_llama, tmp_path / "cut", "--slow-after", "3", script=SCRIPT)
    _kill_after_checkpoint(killed, tmp_path / "cut" / "run" / "checkpoints" / "step-3")
    assert not (tmp_path / "cut" / "run" / "final").exists()
    resumed = _run(tiny_llama, tmp_path / "cut", "--resume", script=SCRIPT)
    assert resumed.wait() == 0, resumed.stderr.read()[-3000:]

    _assert_same_adapter(tmp_path / "ref" / "run", tmp_path / "cut" / "run")
    ref, got = _rows(tmp_path / "ref" / "run"), _rows(tmp_path / "cut" / "run")
    assert [r["step"] for r in got] == [r["step"] for r in ref] == list(range(1, 9))
    for a, b in zip(
        ref, got, strict=True
    ):  # the same completions were sampled after the resume: the same rewards
        assert a["reward"] == b["reward"] and a["completion_length"] == b["completion_length"], a["step"]
