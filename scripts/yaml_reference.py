"""Write docs/yaml-reference.md from the pydantic models in lmforge.config, so the reference cannot drift.

    python scripts/yaml_reference.py            # rewrite docs/yaml-reference.md
    python scripts/yaml_reference.py --check    # exit 1 if the committed file is stale

Every key of the experiment YAML is listed with its type, default and meaning (the field's
`description`). A field without a description is an error: add `Field(description=...)` in config.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from lmforge.config import ExperimentConfig

OUT = Path(__file__).resolve().parents[1] / "docs" / "yaml-reference.md"
BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}  # annotated_types constraint -> sign
HEADER = """# YAML reference

Every key of an experiment YAML, with its type, default and meaning. Generated from the pydantic models in
`src/lmforge/config/` by `python scripts/yaml_reference.py`; a test fails when this file is stale, so edit
the `description=` texts there, not this file.

Keys are dotted paths: `train.lr: 1e-4` in the YAML, or `train.lr=1e-4` as a command-line override.
`[]` marks a list of sections (`data.sources[].path`; override one item as `data.sources.0.path=...`).
Unknown keys are errors naming the nearest valid key. Relative input paths are relative to the YAML file;
output folders are relative to the working directory. `null` is YAML's None.
"""


def type_name(annotation: Any) -> str:
    """A YAML-reader's name for a type: Literal['a', 'b'] -> `a` \\| `b`, int | None -> int \\| null."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in args)
    if origin is list:
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin is dict:
        return f"map[{type_name(args[0])}, {type_name(args[1])}]" if args else "map"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def section_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The section model a field holds, and whether it is a list of them: list[SourceConfig] -> (SourceConfig, True)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        inner, _ = section_of(args[0])
        return inner, inner is not None
    if origin in (typing.Union, types.UnionType):
        for a in args:
            inner, many = section_of(a)
            if inner is not None:
                return inner, many
    return None, False


def default_text(field: Any, section: type[BaseModel] | None) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "(required)"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None and section is not None:
        return "null"
    return f"`{json.dumps(value)}`" if not isinstance(value, str) else f"`{value}`"


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every field, depth first, in declaration order."""
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if not field.description:
            raise SystemExit(
                f"{model.__name__}.{name} has no description: add Field(description=...) in config.py"
            )
        section, many = section_of(field.annotation)
        kind = type_name(field.annotation)
        if many:
            kind = "list of sections"
        bounds = [
            f"{sign} {getattr(m, attr)}"
            for m in field.metadata
            for attr, sign in BOUNDS.items()
            if hasattr(m, attr)
        ]
        meaning = field.description + (f" Must be {' and '.join(bounds)}." if bounds else "")
        out.append((key, kind, default_text(field, section), meaning))
        if section is not None:
            out += rows(section, f"{key}[]." if many else f"{key}.")
    return out


def render() -> str:
    """The whole reference: one table per top-level section."""
    parts = [HEADER]
    top = ExperimentConfig.model_fields
    plain = [r for r in rows(ExperimentConfig) if r[0] in top and section_of(top[r[0]].annotation)[0] is None]
    parts.append("## Top level\n\n" + table(plain))
    for name, field in top.items():
        section, _ = section_of(field.annotation)
        if section is None:
            continue
        parts.append(f"## `{name}`\n\n{field.description}\n\n" + table(rows(section, f"{name}.")))
    return "\n".join(parts)


def escape(text: str) -> str:
    """A pipe would end the table cell; `<name>` would be read as an HTML tag."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def table(items: list[tuple[str, str, str, str]]) -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {d} | {escape(m)} |" for k, t, d, m in items]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed reference is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run `python scripts/yaml_reference.py`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
