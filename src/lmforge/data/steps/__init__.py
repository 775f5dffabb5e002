"""The step registry: YAML name -> class. `build_steps(["normalize", {"length": {"min_words": 3}}], ctx)`."""

from __future__ import annotations

import difflib
from typing import Any

from lmforge.data.steps.base import BadRecord, Filter, GlobalStep, Step, StepContext, TextStep
from lmforge.data.steps.c4 import C4
from lmforge.data.steps.classical import Classical
from lmforge.data.steps.code_quality import CodeQuality
from lmforge.data.steps.custom import Custom
from lmforge.data.steps.decontaminate import Decontaminate
from lmforge.data.steps.dedup import ExactDedup, NearDedup
from lmforge.data.steps.fineweb import FineWeb
from lmforge.data.steps.gopher import GopherQuality, GopherRepetition
from lmforge.data.steps.language import Language
from lmforge.data.steps.length import Length
from lmforge.data.steps.options import check_options
from lmforge.data.steps.pii import Pii
from lmforge.data.steps.strip_html import StripHtml
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
        CodeQuality,
        Pii,
        ExactDedup,
        NearDedup,
        Decontaminate,
        Classical,
        Custom,
    )
}

__all__ = [
    "STEPS",
    "BadRecord",
    "Filter",
    "GlobalStep",
    "Step",
    "StepContext",
    "TextStep",
    "build_steps",
    "check_steps",
    "parse_spec",
]


def parse_spec(spec: Any) -> tuple[str, dict[str, Any]]:
    """`"normalize"` -> ("normalize", {}); `{"length": {"min_words": 3}}` -> ("length", {"min_words": 3})."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict) and len(spec) == 1:
        name, opts = next(iter(spec.items()))
        if opts is None or isinstance(opts, dict):
            return name, dict(opts or {})
    raise UserError(f"data.steps: each entry is a step name or {{name: {{options}}}}, got {spec!r}")


def check_steps(specs: list[Any]) -> None:
    """Every step known and every option known and of its declared type, or a one-line UserError:
    `data.steps[3].length.min_words: expected an integer or null, got '3' (a string)`."""
    for i, spec in enumerate(specs):
        name, opts = parse_spec(spec)
        if name not in STEPS:
            near = difflib.get_close_matches(name, list(STEPS), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; steps: {', '.join(STEPS)}"
            raise UserError(f"data.steps[{i}]: unknown step '{name}'{hint}")
        check_options(STEPS[name], opts, f"data.steps[{i}].{name}")


def build_steps(specs: list[Any], ctx: StepContext) -> list[Step]:
    """Instantiate the steps (checked first, as above); a value a step refuses is a one-line UserError."""
    check_steps(specs)
    steps = []
    for i, spec in enumerate(specs):
        name, opts = parse_spec(spec)
        try:
            steps.append(STEPS[name](ctx=ctx, **opts))
        except (TypeError, ValueError) as e:
            raise UserError(f"data.steps[{i}].{name}: {e}") from None
    return steps
