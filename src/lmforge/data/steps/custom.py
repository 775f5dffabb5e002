"""custom: your own function by import path, e.g. `{custom: {fn: "mypkg.clean:drop_short"}}`.

The function gets the record as a dict (`id`, the task fields, `meta`) and returns:
True/None (keep), False or `(False, reason)` (drop), or a dict (the record, rewritten).
A module path ending in .py is loaded from the file, relative to the YAML folder, and only from inside it.
A YAML with a custom step is code: it runs this function on your machine (docs/prepare.md).
For a record it cannot handle it may raise `lmforge.data.steps.BadRecord("reason")` (a reject); any
other exception counts as a bug in the function, and a few of them stop the run (docs/prepare.md).
Only `fn` (and `on`) are checked when the config loads; the file is loaded when prepare starts.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from lmforge.data.record import Record
from lmforge.data.steps.base import Step
from lmforge.errors import UserError


def load_callable(spec: str, base_dir: Any, what: str = "custom: fn") -> Any:
    """`"pkg.mod:fn"` or `"path/file.py:fn"` -> the function; `what` names the setting in errors."""
    module, _, attr = spec.partition(":")
    if not attr:
        raise UserError(f"{what} '{spec}' must look like 'module:function'")
    try:
        if module.endswith(".py"):
            path = (base_dir / module).resolve()
            if not path.is_relative_to(Path(base_dir).resolve()):  # a YAML only runs code it ships with
                raise UserError(f"{what}: {module} is outside the YAML's folder {base_dir}: refused")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            if loader is None or not path.is_file():
                raise UserError(f"{what}: file not found: {path}")
            mod = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(mod)
        else:
            mod = importlib.import_module(module)
        return getattr(mod, attr)
    except (ImportError, AttributeError) as e:
        raise UserError(f"{what}: cannot load '{spec}' ({e})") from None


class Custom(Step):
    name = "custom"

    def __init__(self, fn: str = "", **kw) -> None:
        super().__init__(**kw)
        self.spec = fn
        self.fn = load_callable(fn, self.ctx.base_dir)

    @property
    def label(self) -> str:
        return f"custom ({self.spec})"

    def process(self, rec: Record) -> Any:
        out = self.fn(rec.to_row())
        if isinstance(out, dict):
            for k, v in out.items():
                if k == "meta":
                    rec.meta = v
                elif k != "id" and rec.fields.get(k) != v:
                    if rec.orig is None:
                        rec.orig = dict(rec.fields)
                    rec.fields[k] = v
            return True
        if out is None or out is True:
            return True
        if out is False:
            return False, "dropped by custom function"
        return out
