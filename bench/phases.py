"""Where a whole run's time and memory go: a phase clock and a memory probe for one training process.

`Phases` times named phases, exclusive of the phases nested inside them (a save inside an eval counts as
save), from the process's own start (its creation time, so the interpreter's start is counted too).
`memory()` reads RSS, the process's RSS high-water mark and glibc's malloc counters (mallinfo2): bytes
in use by malloc, bytes it holds free (the allocator's slack), bytes in its own mmaps.

>>> clock = Phases(); clock.wrap(obj, "fn", "steps")  # doctest: +SKIP
>>> clock.report()["seconds"]  # doctest: +SKIP
{'start': 0.21, 'imports': 3.9, 'steps': 61.2, ...}
"""

from __future__ import annotations

import ctypes
import functools
import resource
import time
from contextlib import contextmanager
from typing import Any

import psutil

MB = 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_size_t)
        for n in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
        )
        + ("keepcost",)
    ]


def _libc() -> Any:
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.mallinfo2.restype = _MallInfo2
        return lib
    except (OSError, AttributeError):  # not glibc (or glibc < 2.33)
        return None


_LIBC = _libc()


def memory() -> dict[str, float]:
    """RSS now, the RSS high-water mark so far, and malloc's counters, in MB.

    `malloc_free_mb` is what glibc holds without a live allocation in it (slack); jemalloc/tcmalloc
    preloaded replace malloc, and glibc's counters then read ~0."""
    out = {
        "rss_mb": psutil.Process().memory_info().rss / MB,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if _LIBC is not None:
        mi = _LIBC.mallinfo2()
        out.update(
            malloc_used_mb=(mi.uordblks + mi.hblkhd) / MB,  # live allocations (heap + mmapped chunks)
            malloc_free_mb=mi.fordblks / MB,  # held in the arenas, not in use
            malloc_mmap_mb=mi.hblkhd / MB,
        )
    return out


class Phases:
    """Exclusive wall time per phase, from the process's creation, and memory at each phase's end."""

    def __init__(self) -> None:
        self.created = psutil.Process().create_time()
        self.seconds: dict[str, float] = {"start": time.time() - self.created}  # interpreter + bench imports
        self.peak_mb: dict[str, float] = {}  # RSS high-water mark at the end of each phase
        self.marks: list[tuple[str, dict[str, float]]] = [("start", memory())]
        self._stack: list[list[Any]] = []  # [name, start, child seconds]

    @contextmanager
    def phase(self, name: str):  # noqa: ANN201
        self._stack.append([name, time.perf_counter(), 0.0])
        try:
            yield
        finally:
            name, t0, inner = self._stack.pop()
            spent = time.perf_counter() - t0
            self.seconds[name] = self.seconds.get(name, 0.0) + spent - inner
            if self._stack:
                self._stack[-1][2] += spent
            mem = memory()
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mem["rss_peak_mb"])
            self.marks.append((name, mem))

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        """Replace `owner.attr` (a function) by itself timed as phase `name`."""
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def timed(*a: Any, **kw: Any) -> Any:
            with self.phase(name):
                return fn(*a, **kw)

        setattr(owner, attr, timed)

    def report(self) -> dict[str, Any]:
        return {
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "process_s": round(time.time() - self.created, 2),
            "peak_mb_by_phase": {k: round(v) for k, v in self.peak_mb.items()},
            "memory_marks": [(n, {k: round(v) for k, v in m.items()}) for n, m in self.marks],
        }


def tensor_bytes(tensors: Any) -> dict[str, float]:
    """MB per dtype of `tensors` (each storage counted once: tied weights, views)."""
    seen, out = set(), {}
    for t in tensors:
        if t is None:
            continue
        key = t.untyped_storage().data_ptr()
        if key in seen:
            continue
        seen.add(key)
        name = str(t.dtype).replace("torch.", "")
        out[name] = out.get(name, 0.0) + t.untyped_storage().nbytes() / MB
    return {k: round(v, 1) for k, v in out.items()}


def model_memory(model: Any, optimizer: Any) -> dict[str, Any]:
    """What the model and optimizer hold: frozen and trainable weights, gradients, optimizer state."""
    params = list(model.parameters())
    state = [v for s in optimizer.state.values() for v in s.values() if hasattr(v, "untyped_storage")]
    return {
        "frozen_weights_mb": tensor_bytes(p for p in params if not p.requires_grad),
        "trainable_weights_mb": tensor_bytes(p for p in params if p.requires_grad),
        "buffers_mb": tensor_bytes(model.buffers()),
        "grads_mb": tensor_bytes(p.grad for p in params),
        "optimizer_state_mb": tensor_bytes(state),
    }
