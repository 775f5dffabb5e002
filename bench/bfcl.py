"""Real function-calling questions: the Berkeley Function Calling Leaderboard v4 (BFCL), as the wheel of PyPI
`bfcl-eval` 2026.3.23 ships it (`bfcl_eval/data/`; `make` downloads the wheel into `.venv/share/corpora/`).

Categories read here, each question with exactly one function:
- `simple_python` (400): one question, one Python-style function, ground truth in `possible_answer/`;
- `live_simple` (258): questions users sent to the live leaderboard (11 open with a system turn);
- `irrelevance` (240): the one function offered cannot answer the question (no ground truth: no call is right).

`bfcl(category)` gives OpenAI fine-tuning records: `{"id", "messages", "tools"}`, the last message an
assistant turn with one `tool_calls` entry whose arguments come from the ground truth by one rule: an
argument whose allowed values include "" (BFCL's mark for "may be left out") is left out unless the schema
requires it (2 simple_python entries mark a required argument so); any other takes its first allowed value
(inside dict values the same rule, key by key). BFCL's checker accepts every call so written but two
(live_simple_106-63-0 and 112-68-0, whose ground truth allows no value for some keys). `irrelevance`
records stop at the question. BFCL's schemas use Python type names; `openai_schema` maps them to JSON Schema's (`dict` ->
`object`, `float` -> `number`, `tuple` -> `array`, `any` -> no type). Function names take `_` for `.`
(`math.factorial` -> `math_factorial`; 167 of simple_python's 400): OpenAI's API, and `lmforge serve` like
it, accept only `^[a-zA-Z0-9_-]{1,64}$`; BFCL renames so for the OpenAI-style models it scores, and
`check_call` compares names as BFCL then does.

`check_call(item, name, arguments)` scores a call with BFCL's own checker (`simple_function_checker` of
`bfcl_eval/eval_checker/ast_eval/ast_checker.py`, read from the wheel; only its import of the model-handler
table is stubbed, which pulls every vendor's SDK; it only says, per model, whether dots became `_`: yes here).
"""

from __future__ import annotations

import copy
import json
import sys
import types
import zipfile
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

WHEEL = Path(sys.prefix) / "share" / "corpora" / "bfcl_eval-2026.3.23-py3-none-any.whl"
CATEGORIES = ("simple_python", "live_simple", "irrelevance")
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}


def _jsonl(member: str) -> list[dict[str, Any]]:
    if not WHEEL.is_file():
        raise FileNotFoundError(f"{WHEEL} is missing: `make install` downloads it (see Makefile)")
    with zipfile.ZipFile(WHEEL) as z:
        return [json.loads(line) for line in z.read(member).decode("utf-8").splitlines() if line.strip()]


@cache
def items(category: str) -> tuple[dict[str, Any], ...]:
    """BFCL's entries as it ships them (`id`, `question`, `function`), each with `ground_truth` added
    (`[{name: {arg: [allowed values]}}]`, None for `irrelevance`).

    >>> items("simple_python")[1]["ground_truth"]
    [{'math.factorial': {'number': [5]}}]
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r} (known: {', '.join(CATEGORIES)})")
    entries = _jsonl(f"bfcl_eval/data/BFCL_v4_{category}.json")
    answers: dict[str, Any] = {}
    if category != "irrelevance":
        answers = {
            a["id"]: a["ground_truth"]
            for a in _jsonl(f"bfcl_eval/data/possible_answer/BFCL_v4_{category}.json")
        }
    return tuple({**e, "ground_truth": answers.get(e["id"])} for e in entries)


def openai_schema(schema: Any) -> Any:
    """BFCL's parameter schema with JSON Schema's type names.

    >>> openai_schema({"type": "dict", "properties": {"x": {"type": "float"}, "v": {"type": "any"}}})
    {'type': 'object', 'properties': {'x': {'type': 'number'}, 'v': {}}}
    """
    if isinstance(schema, list):
        return [openai_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            mapped = _TYPES.get(value, value)
            if mapped is not None:
                out[key] = mapped
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: openai_schema(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = openai_schema(value)
        else:
            out[key] = value
    return out


def _pick(value: Any) -> Any:
    """One concrete value from a ground-truth value: dicts hold allowed values per key, lists hold values."""
    if isinstance(value, dict):
        return arguments(value)
    if isinstance(value, list):
        return [_pick(v) for v in value]
    return value


def arguments(allowed: dict[str, list[Any]], required: Any = ()) -> dict[str, Any]:
    """The arguments written for training: optional ones ("" allowed, and not in the schema's `required`)
    left out, others their first value other than "" (an empty list of allowed values, which BFCL has
    inside two live_simple dicts, becomes []).

    >>> arguments({"base": [10], "unit": ["units", ""], "pressure": ["", 1], "formatted": ["", True]}, ["formatted"])
    {'base': 10, 'formatted': True}
    """
    out = {}
    for key, values in allowed.items():
        if "" in values and key not in required:
            continue
        given = [v for v in values if v != ""]
        out[key] = _pick(given[0]) if given else []
    return out


def openai_name(name: str) -> str:
    """A BFCL function name as OpenAI accepts it: `math.factorial` -> `math_factorial` (BFCL's own rule)."""
    return name.replace(".", "_")


def tool(function: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function as an OpenAI tool."""
    spec = {k: v for k, v in function.items() if k != "parameters"}
    spec["name"] = openai_name(spec["name"])
    return {"type": "function", "function": {**spec, "parameters": openai_schema(function["parameters"])}}


def record(item: dict[str, Any]) -> dict[str, Any]:
    """One BFCL entry as an OpenAI fine-tuning record (the call from `arguments`, none for irrelevance)."""
    messages = [dict(m) for m in item["question"][0]]
    if item["ground_truth"]:
        name, allowed = next(iter(item["ground_truth"][0].items()))
        required = item["function"][0]["parameters"].get("required", ())
        call = {
            "name": openai_name(name),
            "arguments": json.dumps(arguments(allowed, required), ensure_ascii=False),
        }
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_0", "type": "function", "function": call}],
            }
        )
    return {"id": item["id"], "messages": messages, "tools": [tool(f) for f in item["function"]]}


def bfcl(category: str) -> list[dict[str, Any]]:
    """Every question of `category` as an OpenAI fine-tuning record, in BFCL's order.

    >>> r = bfcl("simple_python")[0]
    >>> r["messages"][-1]["tool_calls"][0]["function"], r["tools"][0]["function"]["parameters"]["type"]
    ({'name': 'calculate_triangle_area', 'arguments': '{"base": 10, "height": 5}'}, 'object')
    """
    return [record(item) for item in items(category)]


@lru_cache(maxsize=1)
def _checker() -> types.ModuleType:
    """BFCL's ast_checker module from the wheel; its model-config import is stubbed (see the module doc)."""

    class _Configs(dict):
        def __missing__(self, key: str) -> Any:
            return types.SimpleNamespace(underscore_to_dot=True)  # the expected name with `_` for `.`

    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = _Configs()
    sys.modules.setdefault("bfcl_eval.constants.model_config", stub)
    if str(WHEEL) not in sys.path:
        sys.path.append(str(WHEEL))  # a pure-Python wheel imports as a zip
    from bfcl_eval.eval_checker.ast_eval import ast_checker

    return ast_checker


def check_call(item: dict[str, Any], name: str, args: dict[str, Any]) -> str | None:
    """None when BFCL's checker accepts the call `name(**args)` for `item`, else its error.

    >>> it = items("simple_python")[0]
    >>> check_call(it, "calculate_triangle_area", {"base": 10, "height": 5}) is None
    True
    >>> check_call(it, "calculate_triangle_area", {"base": 10, "height": 6})
    "Invalid value for parameter 'height': 6. Expected one of [5]."
    """
    checker = _checker()
    from bfcl_eval.constants.enums import Language

    result = checker.simple_function_checker(
        copy.deepcopy(item["function"][0]),
        {name: copy.deepcopy(args)},
        item["ground_truth"][0],
        Language.PYTHON,
        "lmforge",
    )
    return None if result["valid"] else "; ".join(result["error"])
