"""lmforge: prepare messy text for LLM fine-tuning, fine-tune, evaluate and export.

Every CLI command is a plain function here too, e.g. `lmforge.load_config("exp.yaml")`.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute", imported on first use so `import lmforge` stays light
_API = {
    "load_config": "lmforge.config:load_config",
    "ExperimentConfig": "lmforge.config:ExperimentConfig",
    "generate": "lmforge.generate:generate",
    "load_for_inference": "lmforge.generate:load_for_inference",
    "load_model": "lmforge.models:load_model",
    "load_tokenizer": "lmforge.models:load_tokenizer",
    "resolve_model": "lmforge.models:resolve_model",
    "evaluate": "lmforge.evaluate:evaluate",
    "predict": "lmforge.predict:predict",
    "tune": "lmforge.tune:tune",
    "prepare": "lmforge.data.prepare:prepare",
    "inspect": "lmforge.inspect:inspect",
    "tokenize_split": "lmforge.tokenize:tokenize_split",
    "report": "lmforge.report:write_report",
    "write_report": "lmforge.report:write_report",
    "train": "lmforge.train:train",
    "export": "lmforge.export:export",
}


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'lmforge' has no attribute '{name}'")
    module, attr = _API[name].split(":")
    return getattr(importlib.import_module(module), attr)


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


def _call_api(name: str, *args: Any, **kwargs: Any) -> Any:
    module, attr = _API[name].split(":")
    return getattr(importlib.import_module(module), attr)(*args, **kwargs)


class _CallableModule(types.ModuleType):
    """A submodule named like a public function (`lmforge.train`): calling it calls the function.

    Importing `lmforge.train.loop` makes `lmforge.train` the submodule; this keeps `lmforge.train(cfg)`
    working after that, while `lmforge.train.loop` stays reachable as a module.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call_api(self.__name__.rpartition(".")[2], *args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType) and type(value) is types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
