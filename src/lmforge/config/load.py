"""Load EXP.yaml, apply `a.b=c` overrides, validate in one place, and describe the first error in one line.

Relative input paths (data sources, eval files) are resolved against the YAML file's folder;
output folders are relative to the working directory.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lmforge.config.experiment import ExperimentConfig
from lmforge.errors import UserError


def parse_override(item: str) -> tuple[list[str], Any]:
    """`train.lr=1e-4` -> (["train", "lr"], 0.0001); the value is a YAML scalar (or flow list/map)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"override '{item}' is not of the form key=value (e.g. train.lr=1e-4)")
    value = yaml.safe_load(raw) if raw.strip() else None
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 as a string
        try:
            value = float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            pass
    return key.strip().split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted key in the nested dict, creating sections that are absent or null."""
    for item in overrides:
        path, value = parse_override(item)
        node = raw
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                node = node[_list_index(node, part, item)]
                continue
            if path[i + 1].isdigit() and not isinstance(node.get(part), list):
                raise UserError(f"override '{item}': '{'.'.join(path[: i + 1])}' is not a list in the config")
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
        if isinstance(node, list):
            node[_list_index(node, path[-1], item)] = value
        else:
            node[path[-1]] = value
    return raw


def _list_index(node: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise UserError(f"override '{item}': '{part}' is not an index of a list of {len(node)}")
    return int(part)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read EXP.yaml (or only defaults when path is None), apply overrides, validate.

    >>> load_config(None, ["train.lr=1e-4"]).train.lr
    0.0001
    """
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"config file not found: {p}")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise UserError(f"{p}:{where} is not valid YAML ({getattr(e, 'problem', e)})") from None
        if not isinstance(raw, dict):
            raise UserError(f"{p}: the top level must be a mapping of sections (name, data, task, ...)")
        base = p.resolve().parent
    raw = apply_overrides(raw, overrides or [])
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(describe_validation_error(e, ExperimentConfig)) from None
    cfg._base_dir = base
    return cfg


def describe_validation_error(err: ValidationError, root: type[BaseModel]) -> str:
    """One line per problem: the dotted key, what is wrong, and the nearest valid key.

    The first line reads as before ("config error: KEY: ..."); further problems follow on their own lines,
    so one run shows everything to fix.
    """
    lines = [_describe_one(e, root) for e in err.errors()]
    lines = list(dict.fromkeys(lines))  # a union's members can repeat one problem
    if len(lines) == 1:
        return f"config error: {lines[0]}"
    rest = "".join(f"\n  also: {line}" for line in lines[1:])
    return f"config error: {lines[0]}{rest}"


def _describe_one(error: Any, root: type[BaseModel]) -> str:
    loc = [str(x) for x in error["loc"] if not _is_union_tag(x)]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        valid = _valid_keys(root, loc[:-1])
        near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
        hint = (
            f"; did you mean '{'.'.join(loc[:-1] + near)}'?" if near else f"; valid keys: {', '.join(valid)}"
        )
        return f"unknown key '{key}'{hint}"
    got = error.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"{key}: {error['msg']}{shown}"


def _is_union_tag(x: Any) -> bool:
    # pydantic puts the union member in the location, e.g. ('model', 'lora', 'LoraConfig', 'rr')
    return isinstance(x, str) and (x[:1].isupper() or x.startswith(("list[", "dict[", "literal[")))


def _valid_keys(root: type[BaseModel], loc: list[str]) -> list[str]:
    model: Any = root
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _section_type(field.annotation)
    return list(getattr(model, "model_fields", {}))


def _section_type(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
