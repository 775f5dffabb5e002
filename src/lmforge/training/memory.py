"""Keep the C allocator from holding on to freed tensor memory during training (glibc on Linux).

glibc's malloc serves a request of at least its mmap threshold with its own mmap, given back to the
system on free; smaller ones come from its heaps, which only give back their top. The threshold starts
at 128 KiB and rises to the size of each mmapped block freed, up to 32 MiB, so after the first steps
every activation tensor of a small model (a few MiB) is carved out of the heap, and blocks of ever other
sizes (packed batches change shape every step) leave holes that glibc keeps. On the built-in model, 608
dialogues in batches of 8 x 256 tokens, glibc held 5.5 GB free at the end of one epoch and the peak RSS
grew every step (5.3 GB after 10 steps, 7.6 GB after 61; bench/train_whole.py, bench/RESULTS.md).
Fixing the threshold (what `MALLOC_MMAP_THRESHOLD_` does) sends every block of 64 KiB or more to mmap:
freed memory goes back at once and the RSS follows the live tensors. Measured on the same run cut to 40
dialogues (4 steps, 2026-12-07): peak RSS 4,780 -> 3,668 MB, glibc's free bytes at the end 3,015 -> 35 MB,
RSS between steps flat at ~1.4 GB (it grew 3.9 -> 4.4 GB), the same val loss; but every tensor's pages are
faulted in fresh: the steps took 64 s instead of 31 (eval 21 s instead of 9). So it is opt-in
(`LMFORGE_MALLOC=lean`), for a run whose memory matters more than its time.

>>> tune_malloc()  # with LMFORGE_MALLOC=lean  # doctest: +SKIP
'glibc: mmap threshold 65536 bytes'
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # mallopt parameter numbers, from glibc's malloc.h
MMAP_THRESHOLD = 64 * 1024  # a tensor of 64 KiB or more: 16k fp32 values, well under one activation


def _glibc() -> ctypes.CDLL | None:
    """glibc's C library, or None elsewhere (musl, macOS, Windows) or when another malloc is preloaded."""
    if "jemalloc" in os.environ.get("LD_PRELOAD", "") or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return None  # a preloaded allocator replaces malloc; glibc's settings would not apply
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name)
        lib.gnu_get_libc_version  # noqa: B018  (only glibc has it)
    except (OSError, AttributeError, TypeError):
        return None
    return lib


def tune_malloc(threshold: int = MMAP_THRESHOLD) -> str:
    """With `LMFORGE_MALLOC=lean`, fix glibc's mmap threshold at `threshold` bytes (before the model loads).

    Left alone otherwise, where the user set it (`MALLOC_MMAP_THRESHOLD_`, `GLIBC_TUNABLES`), and where the
    allocator is not glibc's. Returns what was done, for the log.
    """
    if os.environ.get("LMFORGE_MALLOC", "") != "lean":
        return "malloc: left as is (LMFORGE_MALLOC=lean fixes glibc's mmap threshold)"
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get("GLIBC_TUNABLES", ""):
        return "glibc: mmap threshold as set in the environment"
    lib = _glibc()
    if lib is None:
        return "malloc: not glibc, left as is"
    if lib.mallopt(M_MMAP_THRESHOLD, int(threshold)) != 1:
        return "glibc: mallopt refused the mmap threshold"
    return f"glibc: mmap threshold {threshold} bytes"


def release_free_memory() -> bool:
    """Give glibc's free heap pages back to the system (malloc_trim); True where anything was released."""
    lib = _glibc()
    return bool(lib is not None and lib.malloc_trim(0))
