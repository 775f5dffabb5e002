"""lmforge: prepare messy text for LLM fine-tuning, fine-tune, evaluate and export.

Every CLI command is a plain function too (`lmforge.prepare(cfg)`, `lmforge.train(cfg)`, ...): they live in
`lmforge.api`, and this package hands them out on first use (PEP 562), so `import lmforge` and `lmforge --help`
do not import torch. The stages, in the order data flows, are folders: data/, formatting/ (with tasks/),
training/, evaluation/, inference/, exporting/, reporting/, and cli/ (see docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmforge.version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs read; at run time the names come from __getattr__
    from lmforge.api import *  # noqa: F403

_PUBLIC = frozenset(
    {
        "ExperimentConfig",
        "evaluate",
        "export",
        "generate",
        "inspect",
        "load_config",
        "load_for_inference",
        "load_model",
        "load_tokenizer",
        "predict",
        "prepare",
        "report",
        "resolve_model",
        "serve",
        "tokenize_split",
        "train",
        "tune",
        "verify",
        "write_report",
    }
)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'lmforge' has no attribute '{name}'")
    from lmforge import api

    return getattr(api, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = ["__version__", *sorted(_PUBLIC)]
