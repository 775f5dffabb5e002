"""The run report: one self-contained HTML page (inline plots, no network) for a data or train folder.

>>> from lmforge.report import write_report
>>> write_report("runs/support-bot")  # doctest: +SKIP
PosixPath('runs/support-bot/report.html')

`lmforge.report(run_dir)` works too: importing this package binds `lmforge.report` to the module
object (Python's import system does that for every subpackage), which would shadow the lazy `_API`
entry; so the module itself is made callable and forwards to `write_report`.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from lmforge.report.render import report_cli, write_report, write_report_safely

__all__ = ["report_cli", "write_report", "write_report_safely"]


class _CallableModule(types.ModuleType):
    def __call__(self, run_dir: str | Path, out: str | Path | None = None) -> Path:
        return write_report(run_dir, out)


sys.modules[__name__].__class__ = _CallableModule
