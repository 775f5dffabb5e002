"""Fixtures of the report tests: a finished tiny run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_files import make_run


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    return make_run(tmp_path)


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory) -> Path:
    """report.html of a finished tiny run, drawn once for the tests that only read it (plots take ~1 s)."""
    from lmforge.report import write_report

    run = make_run(tmp_path_factory.mktemp("report"))
    path = write_report(run)
    assert path == run / "report.html"
    return path
