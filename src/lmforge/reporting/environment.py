"""Versions and hardware for the report: the ones the run recorded, else those of this machine."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

PACKAGES = ["lmforge", "torch", "transformers", "peft", "accelerate", "tokenizers", "datasets"]


def recorded_environment(*sources: dict[str, Any] | None) -> dict[str, Any] | None:
    """The first `environment` (or `env`) mapping found in the run's JSON files, flattened one level.

    >>> recorded_environment(None, {"environment": {"python": "3.11", "gpu": {"name": "H100"}}})
    {'python': '3.11', 'gpu.name': 'H100'}
    """
    for source in sources:
        env = (source or {}).get("environment") or (source or {}).get("env")
        if isinstance(env, dict) and env:
            flat: dict[str, Any] = {}
            for key, value in env.items():
                if isinstance(value, dict):
                    flat.update({f"{key}.{k}": v for k, v in value.items()})
                else:
                    flat[key] = value
            return flat
    return None


def current_environment() -> dict[str, Any]:
    """Versions and hardware of the machine writing the report (cheap: no benchmark, no model load)."""
    env: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            env[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    env["cpu"] = _cpu_name()
    env["cpu cores"] = os.cpu_count()
    try:
        import psutil

        env["memory"] = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:  # psutil is a dependency, but the report must not fail for want of a number
        pass
    env["accelerators"] = _accelerators()
    return env


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _accelerators() -> str:
    try:
        import torch
    except ImportError:
        return "unknown (torch not installed)"
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if names:
        return ", ".join(names)
    mps = getattr(torch.backends, "mps", None)
    return "Apple MPS" if mps is not None and mps.is_available() else "none (CPU)"
