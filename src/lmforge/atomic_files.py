"""Writes that survive a kill -9 at any point: whole folders (checkpoints, best/, final/, exports) and result files.

A folder is written into `.tmp-NAME`, marked complete with a `.complete` file, fsynced, then swapped in:
`NAME -> .old-NAME`, `.tmp-NAME -> NAME`, `.old-NAME` removed. A kill between the two renames leaves no
`NAME`; `recover_dir` (run before every write and before a run folder is read) puts back the newest complete
copy, so there is never zero valid copies. `LMFORGE_FAULT` kills the process at a named point (tests).

>>> atomic_write_text(Path("runs/x/eval.json"), "{}")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

COMPLETE = ".complete"
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """SIGKILL this process when `LMFORGE_FAULT` names this point: `name` or `name@K` (its K-th hit).

    `LMFORGE_FAULT=checkpoint:optimizer.pt@2` kills right after the second checkpoint's optimizer.pt is
    written. Used by the kill tests to stop a run inside a write; unset, it costs one dict lookup.
    """
    want = os.environ.get("LMFORGE_FAULT")
    if not want:
        return
    point, _, nth = want.partition("@")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*"), reverse=True):  # files before the folders that hold them
        fsync_path(p)
    fsync_path(folder)


def recover_dir(target: Path, clean: bool = True) -> Path | None:
    """Make `target` the newest complete copy after a kill; drop leftovers. Returns target if it exists.

    A complete `.tmp-NAME` (killed after it was marked, before the swap) is newer than `.old-NAME`.
    A reader passes clean=False: it puts a missing folder back but never removes what a writer may be writing.
    """
    target = Path(target)
    tmp, old = target.parent / f".tmp-{target.name}", target.parent / f".old-{target.name}"
    if not target.exists():
        for candidate in (tmp, old):
            if candidate.is_dir() and (candidate / COMPLETE).is_file():
                os.rename(candidate, target)
                fsync_path(target.parent)
                break
    for leftover in (tmp, old) if clean else ():
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)
    return target if target.exists() else None


def atomic_dir(target: Path, write: Callable[[Path], None], fault: str = "swap") -> Path:
    """Call `write(tmp)` on a fresh temp folder next to `target`, then swap it in (see the module docstring)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)  # never remove the only valid copy left by an earlier kill
    tmp, old = target.parent / f".tmp-{target.name}", target.parent / f".old-{target.name}"
    tmp.mkdir()
    write(tmp)
    (tmp / COMPLETE).write_text("", encoding="utf-8")
    _fsync_tree(tmp)
    if target.exists():
        os.rename(target, old)
    fault_point(fault)  # the window the recovery exists for
    os.rename(tmp, target)
    fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)
    return target


def atomic_write_text(path: Path, text: str) -> Path:
    """Write a whole file or nothing: a temp file next to it, fsynced, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}"
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)
    return path
