"""The worked examples in the report modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["load", "sections", "training", "evaluation", "stats_format", "environment"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(f"lmforge.report.{name}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
