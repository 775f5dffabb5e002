"""The worked examples in the report modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["load", "sections", "train_section", "eval_section", "stats_format", "environment"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(f"lmforge.reporting.{name}"), optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0 and result.failed == 0
