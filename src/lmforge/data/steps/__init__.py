"""The step registry: YAML name -> class. `build_steps(["normalize", {"length": {"min_words": 3}}], ctx)`."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from lmforge.data.steps.base import Filter, GlobalStep, Step, StepContext, TextStep
from lmforge.data.steps.c4 import C4
from lmforge.data.steps.classical import Classical
from lmforge.data.steps.custom import Custom
from lmforge.data.steps.decontaminate import Decontaminate
from lmforge.data.steps.dedup import ExactDedup, NearDedup
from lmforge.data.steps.fineweb import FineWeb
from lmforge.data.steps.gopher import GopherQuality, GopherRepetition
from lmforge.data.steps.html import StripHtml
from lmforge.data.steps.language import Language
from lmforge.data.steps.length import Length
from lmforge.data.steps.pii import Pii
from lmforge.data.steps.text import FixUnicode, Normalize
from lmforge.errors import UserError

STEPS: dict[str, type[Step]] = {
    cls.name: cls
    for cls in (
        FixUnicode,
        StripHtml,
        Normalize,
        Length,
        Language,
        GopherQuality,
        GopherRepetition,
        C4,
        FineWeb,
        Pii,
        ExactDedup,
        NearDedup,
        Decontaminate,
        Classical,
        Custom,
    )
}

__all__ = ["STEPS", "Filter", "GlobalStep", "Step", "StepContext", "TextStep", "build_steps", "parse_spec"]


def parse_spec(spec: Any) -> tuple[str, dict[str, Any]]:
    """`"normalize"` -> ("normalize", {}); `{"length": {"min_words": 3}}` -> ("length", {"min_words": 3})."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict) and len(spec) == 1:
        name, opts = next(iter(spec.items()))
        if opts is None or isinstance(opts, dict):
            return name, dict(opts or {})
    raise UserError(f"data.steps: each entry is a step name or {{name: {{options}}}}, got {spec!r}")


def build_steps(specs: list[Any], ctx: StepContext) -> list[Step]:
    """Instantiate the steps; an unknown step or option is a one-line UserError naming the nearest."""
    steps = []
    for i, spec in enumerate(specs):
        name, opts = parse_spec(spec)
        if name not in STEPS:
            near = difflib.get_close_matches(name, list(STEPS), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; steps: {', '.join(STEPS)}"
            raise UserError(f"data.steps[{i}]: unknown step '{name}'{hint}")
        cls = STEPS[name]
        valid = _options(cls)
        for key in opts:
            if key not in valid:
                near = difflib.get_close_matches(key, valid, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else f"; options: {', '.join(valid)}"
                raise UserError(f"data.steps[{i}].{name}: unknown option '{key}'{hint}")
        try:
            steps.append(cls(ctx=ctx, **opts))
        except (TypeError, ValueError) as e:
            raise UserError(f"data.steps[{i}].{name}: {e}") from None
    return steps


def _options(cls: type[Step]) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names += [
                p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "kw", "ctx")
            ]
    return list(dict.fromkeys(names))
