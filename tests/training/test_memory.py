"""training/memory.py: glibc's fixed mmap threshold gives freed tensor-sized blocks back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lmforge.training.memory import release_free_memory, tune_malloc

# 400 blocks of ~1 MiB freed under a small live block: glibc (threshold raised to 16 MiB by one freed
# mmapped block, as torch's first big tensors do) keeps them all; with the fixed threshold they go back
PROBE = """
import ctypes, sys, psutil
from lmforge.training.memory import tune_malloc
if sys.argv[1] == "tuned":
    import os
    os.environ["LMFORGE_MALLOC"] = "lean"
    tune_malloc()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(16 << 20))
blocks = [libc.malloc((1 << 20) + 4096 * (i % 7)) for i in range(400)]
for b in blocks:
    ctypes.memset(b, 1, 1 << 20)
keep = libc.malloc(4096)
for b in blocks:
    libc.free(b)
print(psutil.Process().memory_info().rss / 2**20)
"""

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")


def _rss_after_free(mode: str) -> float:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "LMFORGE_MALLOC", "LD_PRELOAD"))
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True
    ).stdout
    return float(out.split()[-1])


@glibc
def test_fixed_threshold_gives_freed_blocks_back() -> None:
    default, tuned = _rss_after_free("default"), _rss_after_free("tuned")
    assert default - tuned > 300  # MB: the 400 freed blocks stay in glibc's heap without it


@glibc
def test_tune_malloc_says_what_it_did(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.delenv("LMFORGE_MALLOC", raising=False)
    assert "left as is" in tune_malloc()  # opt-in: the fixed threshold costs time (module docstring)
    monkeypatch.setenv("LMFORGE_MALLOC", "lean")
    assert tune_malloc() == "glibc: mmap threshold 65536 bytes"
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert "environment" in tune_malloc()
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert "not glibc" in tune_malloc()
    assert release_free_memory() is False  # no glibc settings under a preloaded allocator
