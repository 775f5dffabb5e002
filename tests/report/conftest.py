"""Fixtures of the report tests: a finished tiny run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_files import make_run


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    return make_run(tmp_path)
