"""Fixtures of the report tests: a finished tiny run folder, its report, a headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_files import make_run

pytest.register_assert_rewrite("browser_check")  # its checks fail with pytest's detailed messages
from browser_check import start_browser  # noqa: E402


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for all report tests (starting it takes seconds)."""
    yield from start_browser()


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    return make_run(tmp_path)


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory) -> Path:
    """report.html of a finished tiny run, drawn once for the tests that only read it (plots take ~1 s)."""
    from lmforge.reporting.render import write_report

    run = make_run(tmp_path_factory.mktemp("report"))
    path = write_report(run)
    assert path == run / "report.html"
    return path
