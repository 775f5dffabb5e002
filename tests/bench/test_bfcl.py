"""bench/bfcl.py on the real BFCL data in the bfcl-eval wheel: every record is OpenAI's tool-calling form,
its schemas are valid JSON Schema, and each written call is one that BFCL's own checker accepts."""

from __future__ import annotations

import json

import jsonschema
import pytest

from bench import bfcl

JSON_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def _types(schema):
    """Every `type` in a schema: {"type": "object", "properties": {"x": {"type": "number"}}} -> {object, number}."""
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for sub in [*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema else [])]:
        found |= _types(sub)
    return found


pytestmark = pytest.mark.skipif(
    not bfcl.WHEEL.is_file(), reason="bfcl-eval wheel not downloaded (make install)"
)


@pytest.mark.parametrize("category, n", [("simple_python", 400), ("live_simple", 258), ("irrelevance", 240)])
def test_records_are_openai_tool_records(category, n):
    records = bfcl.bfcl(category)
    assert len(records) == n == len({r["id"] for r in records})
    for r in records:
        (t,) = r["tools"]
        jsonschema.validators.validator_for(t["function"]["parameters"]).check_schema(
            t["function"]["parameters"]
        )
        assert _types(t["function"]["parameters"]) <= JSON_TYPES  # BFCL's dict/float/tuple/any mapped
        last = r["messages"][-1]
        if category == "irrelevance":
            assert last["role"] == "user"
            continue
        (call,) = last["tool_calls"]
        assert last["role"] == "assistant" and last["content"] is None
        assert call["function"]["name"] == t["function"]["name"]
        assert isinstance(json.loads(call["function"]["arguments"]), dict)


def test_written_calls_pass_bfcl_checker():
    failed = []
    for category in ("simple_python", "live_simple"):
        for item in bfcl.items(category):
            call = bfcl.record(item)["messages"][-1]["tool_calls"][0]["function"]
            if bfcl.check_call(item, call["name"], json.loads(call["arguments"])):
                failed.append(item["id"])
    assert failed == [
        "live_simple_106-63-0",
        "live_simple_112-68-0",
    ]  # ground truth allows no value for some keys


def test_checker_rejects_wrong_calls():
    item = bfcl.items("simple_python")[0]  # calculate_triangle_area(base=10, height=5)
    assert (
        bfcl.check_call(item, "calculate_triangle_area", {"base": 10, "height": 5, "unit": "units"}) is None
    )
    assert "not found" in bfcl.check_call(item, "triangle_area", {"base": 10, "height": 5})
    assert "Unexpected" in bfcl.check_call(item, "calculate_triangle_area", {"base": 10, "height": 5, "x": 1})
    assert "Missing" in bfcl.check_call(item, "calculate_triangle_area", {"base": 10})
    assert "type" in bfcl.check_call(item, "calculate_triangle_area", {"base": "10", "height": 5})


def test_judge_uses_bfcl_checker():
    from bench.tool_scoring import judge

    item = bfcl.items("simple_python")[0]  # calculate_triangle_area(base=10, height=5)
    ok = judge(item, [{"name": "calculate_triangle_area", "arguments": '{"base": 10, "height": 5}'}], None)
    assert ok["right"] and ok["valid"] and ok["error"] is None
    wrong = judge(item, [{"name": "calculate_triangle_area", "arguments": '{"base": 10, "height": 4}'}], None)
    assert not wrong["right"] and wrong["valid"] and "height" in wrong["error"]
    broken = judge(item, [{"name": "calculate_triangle_area", "arguments": '{"base": 10,'}], None)
    assert not broken["right"] and not broken["valid"]
    none = judge(item, [], "The area is 25.")
    assert none["error"] == "no tool call" and not none["valid"]
