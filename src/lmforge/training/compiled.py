"""`train.compile`: the decoder layers compiled with inductor (CPU and CUDA), and when it pays.

What is compiled: each decoder layer (`module.compile()`, so the saved names stay the same). The layers
share one code path, so dynamo traces one layer and the others reuse its graph. The rest stays eager on
purpose: the label-only chunked LM head (head_ce.py) and the label positions are data-dependent shapes,
and `lmforge_docs` attention picks its groups from the documents' lengths, so it is marked eager (one graph
break per layer, counted) instead of recompiling for every batch. Fused LoRA (fused_lora.py) is traced
with its backward; its dropout draws from inductor's random numbers under compile (not the eager masks).

Shapes: packed batches are padded to `batch_size` rows x `max_seq_len` (a padding bin is a document of its
own with no labels: the loss is unchanged), so a packed run compiles one shape. Unpacked batches keep their
width: dynamo's automatic dynamic shapes recompile once with a symbolic length (counted and logged).

`auto`: the first steps run eager and are timed; then compile when (steps left) x (step time) x (measured
saving) is larger than the expected compile time, from `compile_times.json` next to inductor's cache
(what this machine measured for this model and shape) or, never measured, a cold default. The decision,
its estimate and the step it starts at are logged, and kept in the checkpoint so a resume decides the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

EAGER_STEPS = 2  # steps `auto` times before it decides
# step-time saving of the compiled layers and cold compile seconds of the built-in model, until this
# machine measured its own (compile_times.json). CPU, bench/compile.py (bench/RESULTS.md 2026-12-07, 2
# cores, packed 8 x 256): eager 7.97 s/step, compiled 8.79 (warm run) to 9.41: slower than lmforge's eager
# step (fused LoRA, FastDropout and lmforge_docs already did what inductor fuses), so auto stays eager on
# CPU; compiling took 109 s cold, 38 s warm. bench/compile_forms.py (RESULTS.md, issue #37 item 1): the
# issue's 1.4x for a compiled peft step is mostly peft's bernoulli_ dropout, which FastDropout removed;
# the whole decoder stack compiled gained 2-7% at most (6 layers, loaded machine). CUDA: an assumption.
SAVING = {"cpu": 0.0, "cuda": 0.25}
COLD_S = {"cpu": 110.0, "cuda": 60.0}


def cache_root() -> Path:
    """Inductor's on-disk caches (FX graphs, AOTAutograd, compiled kernels): $TORCHINDUCTOR_CACHE_DIR, else
    $LMFORGE_HOME/inductor, so a second run of the same model starts warm."""
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if env:
        return Path(env)
    from lmforge.models import lmforge_home

    root = lmforge_home() / "inductor"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root)
    return root


def compiler_missing(device: str) -> str | None:
    """Why inductor cannot build kernels here (a line), or None: CPU needs a C++ compiler, CUDA triton."""
    if device == "cuda":
        import importlib.util

        return None if importlib.util.find_spec("triton") else "triton is not installed"
    cxx = os.environ.get("CXX", "g++")
    return None if shutil.which(cxx) or shutil.which("clang++") else f"no C++ compiler ({cxx}) on PATH"


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The model's repeated blocks: modules named by transformers' `_no_split_modules` (LlamaDecoderLayer)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(getattr(base, "_no_split_modules", None) or [])
    return [m for m in model.modules() if type(m).__name__ in names]


class CompiledStep:
    """The compile switch of one run: decides (auto), compiles, counts compilations and falls back."""

    def __init__(self, setting: Any, model: torch.nn.Module, cfg: Any, total_steps: int, device: str) -> None:
        self.setting, self.model, self.device = setting, model, device
        self.total, self.rows, self.width = total_steps, cfg.train.batch_size, cfg.train.max_seq_len
        self.packed = bool(cfg.train.packing)
        self.layers = decoder_layers(model)
        self.active = False
        self.compiles = 0  # dynamo compilations (initial + recompilations), counted by its callbacks
        self.compile_s = 0.0
        self.first_compiles = 0  # compilations in the first compiled step (one per distinct graph)
        self.eager_s: list[float] = []
        self.compiled_s: list[float] = []
        self.started_at: int | None = None
        self._in_first = False
        self._t0 = 0.0

    # -- the decision -------------------------------------------------------------------------------
    def key(self) -> str:
        """What a cached compile is valid for: model class and size, shape, device, torch version."""
        c = getattr(self.model, "config", None)
        arch = f"{type(self.layers[0]).__name__}-h{getattr(c, 'hidden_size', '?')}" if self.layers else "-"
        shape = f"{self.rows}x{self.width}" if self.packed else f"{self.rows}xT"
        return f"{arch}/{shape}/{self.device}/torch-{torch.__version__}"

    def _times(self) -> dict[str, Any]:
        path = cache_root() / "compile_times.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def estimate(self, step: int) -> tuple[bool, str]:
        """(compile?, the line that says why) from the eager steps timed so far."""
        known = self._times().get(self.key(), {})
        compile_s = known.get("warm_s") or known.get("cold_s") or COLD_S.get(self.device, 120.0)
        where = "measured here" if known else "cold default"
        saving = known.get("saving", SAVING.get(self.device, 0.0))
        step_s = min(self.eager_s) if self.eager_s else float("nan")
        left = self.total - step
        won = left * step_s * saving
        line = (
            f"{left} steps left x {step_s:.2f} s/step x {saving:.0%} saving = {won:.0f} s "
            f"vs ~{compile_s:.0f} s to compile ({where})"
        )
        return won > compile_s, line

    def before_step(self, run: Any) -> None:
        """Compile at the step `true` or `auto` chose (a resumed run at the step its checkpoint kept)."""
        st = run.state
        if self.active or self.setting is False or not self.layers:
            return
        if st.compiled_from is not None and 0 <= st.compiled_from <= st.step:
            return self._start(st.step, "resumed with train.compile on")
        if self.setting is True:
            st.compiled_from = st.step
            return self._start(st.step, "train.compile: true")
        if st.compiled_from is None and len(self.eager_s) >= EAGER_STEPS and st.step < self.total:
            go, line = self.estimate(st.step)
            _note(f"train.compile auto: {line}: {'compiling' if go else 'staying eager'}")
            st.compiled_from = st.step if go else -1  # -1: decided eager (kept by a resume)
            if go:
                self._start(st.step, None)

    def _start(self, step: int, why: str | None) -> None:
        missing = compiler_missing(self.device)
        if missing:
            _note(f"train.compile: {missing}; training eager")
            self.setting = False
            return
        cache_root()
        from torch._dynamo.callback import callback_handler

        callback_handler.register_start_callback(self._on_start)
        callback_handler.register_end_callback(self._on_end)
        for layer in self.layers:
            layer.compile()
        self.active, self.started_at, self._in_first = True, step, True
        if why:
            _note(f"{why}: compiling {len(self.layers)} decoder layers with inductor (cache {cache_root()})")

    def _on_start(self, _args: Any) -> None:
        self._t0 = time.perf_counter()

    def _on_end(self, _args: Any) -> None:
        self.compiles += 1
        self.compile_s += time.perf_counter() - self._t0
        if self._in_first:
            self.first_compiles += 1

    # -- around each step ---------------------------------------------------------------------------
    def backward(self, run: Any, window: list[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, int]:
        """The loop's `backward_window`, falling back to eager when the first compile fails (one line)."""
        from lmforge.training.loop import backward_window

        if self.active and self.packed:
            window = [self.pad(b, run.pad_id) for b in window]
        if not (self.active and self._in_first):
            return backward_window(run.accelerator, run.wrapped, window)
        try:
            return backward_window(run.accelerator, run.wrapped, window)
        except Exception as e:  # noqa: BLE001 - any compiler failure: the step is redone eager
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            _note(f"train.compile: compiling failed ({type(e).__name__}: {first}); training eager")
            self.stop(compile_failed=True)
            run.optimizer.zero_grad(set_to_none=True)
            return backward_window(run.accelerator, run.wrapped, window)

    def after_step(self, run: Any, seconds: float) -> None:
        """Time the step; after the first compiled one, log the compile time; log every recompilation."""
        if not self.active:
            self.eager_s.append(seconds)
            return
        if self._in_first:
            self._in_first = False
            self.first_s = seconds
            self._done = self.compiles
            _note(
                f"train.compile: first compiled step {seconds:.1f} s ({self.compiles} graphs, "
                f"{self.compile_s:.1f} s compiling, {graph_breaks()} graph breaks)"
            )
            return
        self.compiled_s.append(seconds)
        if self.compiles > self._done:
            _note(
                f"train.compile: recompiled at step {run.state.step} ({self.compiles - self.first_compiles} "
                f"recompilations so far, {self.compile_s:.1f} s compiling in all)"
            )
            self._done = self.compiles
        if len(self.compiled_s) == EAGER_STEPS:
            self._record()

    def _record(self) -> None:
        """Keep this machine's compile time (and saving, when eager steps were timed) for the next `auto`."""
        times = self._times()
        old = times.get(self.key(), {})
        entry = dict(old)
        entry["cold_s" if not old else "warm_s"] = round(self.compile_s, 1)
        if self.eager_s:
            entry["saving"] = round(max(0.0, 1 - min(self.compiled_s) / min(self.eager_s)), 3)
        times[self.key()] = entry
        path = cache_root() / "compile_times.json"
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(times, indent=1), encoding="utf-8")

    def stop(self, compile_failed: bool = False) -> None:
        """Back to eager forwards (after the loop: final eval and saving need no compiled graph)."""
        for layer in self.layers:
            layer._compiled_call_impl = None
        self.active = False
        if compile_failed:
            self.setting = False

    def summary(self) -> dict[str, Any]:
        """What metrics and the bench report: compilations, recompilations, graph breaks, seconds."""
        return {
            "compiled": self.started_at is not None,
            "compiled_from_step": self.started_at,
            "compilations": self.compiles,
            "recompilations": max(0, self.compiles - self.first_compiles),
            "graph_breaks": graph_breaks(),
            "compile_s": round(self.compile_s, 1),
            "first_compiled_step_s": round(getattr(self, "first_s", 0.0), 2),
        }

    @contextlib.contextmanager
    def eager(self) -> Any:
        """Evaluation runs eager: no-grad forwards of other shapes would compile graphs of their own."""
        if not self.active:
            yield
            return
        with torch.compiler.set_stance("force_eager"):
            yield

    def pad(self, batch: dict[str, torch.Tensor], pad_id: int) -> dict[str, torch.Tensor]:
        """A packed batch padded to batch_size x max_seq_len (one shape to compile) when compiling.

        The added columns and rows are a padding document (positions from 0, labels -100): no label, and
        no real token attends to it, so the loss is the same.
        """
        if not self.active or "attention_mask" in batch or batch["labels"].dim() != 2:
            return batch
        rows, width = batch["input_ids"].shape
        if rows >= self.rows and width >= self.width:
            return batch
        out = {}
        for k, v in batch.items():
            if v.dim() != 2:
                out[k] = v
                continue
            fill = {"input_ids": pad_id, "labels": -100}.get(k, 0)
            grown = torch.full((max(rows, self.rows), max(width, self.width)), fill, dtype=v.dtype)
            grown[:rows, :width] = v
            if k == "position_ids":
                grown[:rows, width:] = torch.arange(grown.shape[1] - width)
                grown[rows:] = torch.arange(grown.shape[1])
            out[k] = grown
        return out


def graph_breaks() -> int:
    """Graph breaks dynamo took so far (in this process)."""
    from torch._dynamo.utils import counters

    return int(sum(counters["graph_break"].values()))


def _note(line: str) -> None:
    print(f"lmforge: {line}", file=sys.stderr, flush=True)
