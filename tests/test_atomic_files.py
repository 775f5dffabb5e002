"""Folder swaps and result files that survive a kill at any point (lmforge.atomic_files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lmforge.atomic_files import COMPLETE, atomic_dir, atomic_write_text, recover_dir

SWAP = """
import sys
from pathlib import Path
from lmforge.atomic_files import atomic_dir
atomic_dir(Path(sys.argv[1]), lambda tmp: (tmp / "v").write_text(sys.argv[2]), fault="swap")
"""


def _swap_in_a_process(target: Path, value: str, fault: str | None) -> int:
    env = {**os.environ, **({"LMFORGE_FAULT": fault} if fault else {})}
    return subprocess.run([sys.executable, "-c", SWAP, str(target), value], env=env).returncode


def test_kill_between_the_two_renames_leaves_a_recoverable_copy(tmp_path):
    target = tmp_path / "final"
    assert _swap_in_a_process(target, "1", None) == 0
    assert _swap_in_a_process(target, "2", "swap") == -signal.SIGKILL
    assert not target.exists()  # the window: old moved away, new not yet in place
    assert recover_dir(target) == target
    assert (target / "v").read_text() == "2"  # the complete new copy wins over the old one
    assert not list(tmp_path.glob(".*-final"))


def test_an_incomplete_temp_folder_never_replaces_the_old_copy(tmp_path):
    target = tmp_path / "best"
    atomic_dir(target, lambda tmp: (tmp / "v").write_text("old"))
    os.rename(target, tmp_path / ".old-best")  # killed after the first rename ...
    (tmp_path / ".tmp-best").mkdir()  # ... of a write that never finished (no .complete)
    (tmp_path / ".tmp-best" / "v").write_text("half")
    recover_dir(target)
    assert (target / "v").read_text() == "old"


def test_the_next_write_does_not_delete_the_only_valid_copy(tmp_path):
    target = tmp_path / "final"
    atomic_dir(target, lambda tmp: (tmp / "v").write_text("good"))
    os.rename(target, tmp_path / ".old-final")

    def fails(tmp: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_dir(target, fails)
    assert (target / "v").read_text() == "good" and (target / COMPLETE).is_file()


def test_atomic_write_text_replaces_whole(tmp_path):
    path = tmp_path / "eval.json"
    atomic_write_text(path, "{}")
    atomic_write_text(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}' and not list(tmp_path.glob(".tmp-*"))


def test_no_pickle_loads_of_code_in_the_package():
    src = Path(__file__).resolve().parents[1] / "src"
    hits = [p for p in src.rglob("*.py") if "weights_only=False" in p.read_text(encoding="utf-8")]
    assert hits == []
