"""Errors the CLI turns into one line and an exit code, never a traceback."""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path


class UserError(Exception):
    """Bad usage, config or input file: the CLI prints the message and exits 2."""

    exit_code = 2


class RunFailed(Exception):
    """A run or check that failed (NaN loss, fatal inspect finding): exit 1."""

    exit_code = 1


def crash_line(command: str, e: BaseException) -> str:
    """The one line the CLI prints for an unexpected error; the traceback goes to a log file it names.

    >>> crash_line("prepare", PermissionError(13, "Permission denied"))  # doctest: +SKIP
    'lmforge prepare: unexpected PermissionError: [Errno 13] Permission denied (traceback in /root/...log)'
    """
    what = " ".join(f"{type(e).__name__}: {e}".split())[:300]  # one line, however the message is laid out
    log = write_crash_log(command, e)
    where = f"traceback in {log}" if log else "no log file could be written"
    return f"lmforge {command}: unexpected {what} ({where})"


def write_crash_log(command: str, e: BaseException) -> Path | None:
    """The traceback in $LMFORGE_HOME/logs/, or the temp dir when that is not writable; None if neither is."""
    home = Path(os.environ.get("LMFORGE_HOME", Path.home() / ".cache" / "lmforge")).expanduser()
    name = f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(e))
    for folder in (home / "logs", Path(tempfile.gettempdir()) / "lmforge-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8", errors="backslashreplace")
            return folder / name
        except OSError:
            continue
    return None
