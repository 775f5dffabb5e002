"""Step options checked against what each step declares: the keyword arguments of its `__init__` (and of
its base classes'), with their type hints, become a strict pydantic model, so `{length: {min_words: "3"}}`
fails when the config loads instead of rejecting every record later.

Strict, because YAML already gives the right Python types: a quoted "3" for an integer is a mistake to
report, not to coerce (an integer where a float is declared is still fine). A parameter without a hint
takes anything. A custom step declares only `fn` (and `on`): the options of your function itself are not
checked here, and the function is loaded (and a missing file reported) when prepare starts.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from lmforge.errors import UserError

_NOT_OPTIONS = ("self", "ctx", "kw", "kwargs", "return")
_TYPE_ERRORS = ("_type", "_parsing", "literal_error", "none_required", "union_tag", "is_instance_of")
_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a boolean", type(None): "null"}


@cache
def options_model(cls: type) -> type[BaseModel]:
    """The options a step class takes, as a pydantic model (cached per class).

    >>> sorted(options_model(Length).model_fields)[:2]          # doctest: +SKIP
    ['max_chars', 'max_tokens']
    """
    fields: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        hints = typing.get_type_hints(init)
        for p in inspect.signature(init).parameters.values():
            if p.name in _NOT_OPTIONS or p.name in fields or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (hints.get(p.name, Any), default)
    config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)
    return create_model(f"{cls.__name__}Options", __config__=config, **fields)


def option_names(cls: type) -> list[str]:
    """`option_names(Length)` -> ['min_chars', 'max_chars', ..., 'tokenizer', 'on']"""
    return list(options_model(cls).model_fields)


def check_options(cls: type, opts: dict[str, Any], where: str) -> None:
    """A one-line UserError for the first unknown option (with the nearest valid name) or wrong type.

    >>> check_options(Length, {"min_words": "3"}, "data.steps[3].length")   # doctest: +SKIP
    UserError: data.steps[3].length.min_words: expected an integer or null, got '3' (a string)
    """
    model = options_model(cls)
    valid = list(model.model_fields)
    for key in opts:
        if key not in valid:
            near = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; options: {', '.join(valid)}"
            raise UserError(f"{where}: unknown option '{key}'{hint}")
    try:
        model.model_validate(opts)
    except ValidationError as e:
        first = e.errors()[0]
        key = str(first["loc"][0])
        got = "null" if opts.get(key) is None else repr(opts.get(key))
        if first["type"] == "missing":
            raise UserError(f"{where}: option '{key}' is required") from None
        if any(t in first["type"] for t in _TYPE_ERRORS):
            expected = describe(model.model_fields[key].annotation)
            raise UserError(
                f"{where}.{key}: expected {expected}, got {got} ({_kind(opts.get(key))})"
            ) from None
        raise UserError(f"{where}.{key}: {first['msg']} (got {got})") from None


def describe(hint: Any) -> str:
    """A type hint in words.

    >>> describe(list[str] | None)
    'a list of strings or null'
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "anything"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, set):
        return f"a list of {_plural(describe(args[0]))}" if args else "a list"
    if origin is dict:
        return (
            f"a mapping of {_plural(describe(args[0]))} to {_plural(describe(args[1]))}"
            if args
            else "a mapping"
        )
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(words: str) -> str:
    # "an integer" -> "integers", "a number or null" -> "numbers or null"
    return " or ".join(
        w.split(" ", 1)[1] + "s" if w.startswith(("a ", "an ")) else w for w in words.split(" or ")
    )


def _kind(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return _NAMES.get(type(value), f"a {type(value).__name__}")
