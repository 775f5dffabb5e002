"""`lmforge demo` after a plain `pip install`: no examples/ folder, the example comes from the package.

find_example() writes the package's copy into runs/demo/example/ (the same bytes as the checkout's
examples/support-bot/), and the wheel carries what that needs (demo_data.py, demo_topics.py, demo_exp.yaml).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lmforge.cli import demo
from lmforge.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = ROOT / "examples" / "support-bot"
FILES = ["eval/benchmark.jsonl", "exp.yaml", "raw/export.csv", "raw/tickets.jsonl"]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_find_example_writes_the_packaged_example_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty folder: no ./examples/support-bot
    monkeypatch.setattr(demo, "REPO_EXAMPLE", tmp_path / "no-checkout" / "support-bot")
    folder = demo.find_example()
    assert folder == Path("runs/demo/example")
    assert _files(folder) == FILES
    for rel in FILES:  # the demo outside a checkout runs on exactly the checkout's data
        assert (folder / rel).read_bytes() == (CHECKOUT / rel).read_bytes(), rel
    cfg = load_config(folder / "exp.yaml")
    assert cfg.name == "support-bot" and cfg.task.type == "sft"


def test_find_example_prefers_the_checkout_and_names_a_bad_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert demo.find_example() == demo.REPO_EXAMPLE  # this test runs in a checkout
    assert not (tmp_path / "runs").exists()  # nothing written when the checkout has it
    with pytest.raises(demo.UserError, match="no exp.yaml"):
        demo.find_example(str(tmp_path / "nowhere"))


def test_clearing_the_demo_folder_keeps_the_written_example(tmp_path):
    out = tmp_path / "runs" / "demo"
    (out / "example" / "raw").mkdir(parents=True)
    (out / "example" / "raw" / "tickets.jsonl").write_text("{}\n")
    (out / "final").mkdir()
    (out / "eval.json").write_text("{}")
    demo._clear(out, keep=out / "example")
    assert _files(out) == ["example/raw/tickets.jsonl"]
    demo._clear(out, keep=CHECKOUT)  # run from a checkout: an old written example goes too
    assert _files(out) == []


def test_the_wheel_ships_the_demo_example(tmp_path):
    """Build the wheel, unzip it, and let its find_example() write the example from an empty folder."""
    pytest.importorskip("setuptools")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("lmforge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"lmforge/cli/demo_data.py", "lmforge/cli/demo_topics.py", "lmforge/cli/demo_exp.yaml"} <= names
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    (tmp_path / "cwd").mkdir()
    code = "import lmforge.cli.demo as d; print(d.__file__); print(d.find_example())"
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path / "cwd",
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    module, folder = run.stdout.split()
    assert module.startswith(str(tmp_path / "site"))  # the unzipped wheel, not the checkout
    assert folder == "runs/demo/example"
    written = tmp_path / "cwd" / folder
    assert _files(written) == FILES
    assert all((written / rel).read_bytes() == (CHECKOUT / rel).read_bytes() for rel in FILES)
