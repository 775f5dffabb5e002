"""Tool-calling records in prepare's stats and dedup: calls per tool counted, reasons counted without the
turn, and two records that ask one question of different tools are not duplicates."""

from __future__ import annotations

import json

from lmforge.data.stats import reason_key
from lmforge.data.summary import tool_line


def tool(name: str, required: str = "city") -> dict:
    props = {required: {"type": "string"}}
    return {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": props, "required": [required]},
        },
    }


def record(
    question: str, name: str | None, args: str = '{"city": "Paris"}', tools=None, result=False
) -> dict:
    messages = [{"role": "user", "content": question}]
    if name is None:
        messages.append({"role": "assistant", "content": "No tool for that."})
    else:
        call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        if result:
            messages += [
                {"role": "tool", "tool_call_id": "c1", "content": "21"},
                {"role": "assistant", "content": "21 degrees.", "reasoning_content": "The tool said 21."},
            ]
    return {"messages": messages, "tools": tools if tools is not None else [tool(name or "get_weather")]}


ROWS = [
    record("Weather in Paris?", "get_weather", result=True),
    record("Weather in Paris?", "get_weather", result=True),  # exported twice: a duplicate
    record(
        "Weather in Paris?", "weather_now", tools=[tool("weather_now")]
    ),  # the same question, another tool
    record("Weather in Rome?", "get_weather", '{"city": "Rome"}'),
    record("Forecast for Oslo?", "get_forecast", '{"city": "Oslo"}', tools=[tool("get_forecast")]),
    record("Tell me a joke", None),  # tools offered, answered in text
    record("Weather in Lima?", "get_weather", "{'city': 'Lima'}"),  # arguments not JSON
    record("Weather in Kyiv?", "weather", '{"city": "Kyiv"}', tools=[tool("get_weather")]),  # undeclared
    record("Weather in Bern?", "get_weather", '{"town": "Bern"}'),  # a required argument missing
]


def test_prepare_counts_tool_use_and_keeps_one_question_asked_of_two_tools(runner):
    runner.write("a.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS))
    stats, kept, rejects = runner.run([{"path": "a.jsonl"}], ["exact_dedup"], task="sft")
    assert stats["accounting"]["ok"] and len(kept) == 5
    assert {r["id"] for r in rejects if r["step"] == "exact_dedup"} == {"a.jsonl:2"}
    assert [r["messages"][1]["tool_calls"][0]["function"]["name"] for r in kept[:3]] == [
        "get_weather",
        "weather_now",
        "get_weather",
    ]
    assert stats["tools"] == {
        "records_with_tools": 5,
        "records_with_calls": 4,
        "records_answered_in_text": 1,
        "calls": 4,
        "results": 1,
        "records_with_thinking": 1,
        "calls_per_tool": {"get_weather": 2, "get_forecast": 1, "weather_now": 1},
        "other_tools": 0,
        "other_calls": 0,
    }
    read = next(s for s in stats["steps"] if s["step"] == "read")
    assert read["reasons"] == {
        "arguments of '…' are not valid JSON": 1,
        "call to tool '…', which the record does not declare": 1,
        "arguments of '…' break the declared schema": 1,
    }
    line = tool_line(stats["tools"])
    assert line.startswith("tools: 5 records declare tools, 4 call them (4 calls: get_weather 2, ")
    assert "1 answer in text; 1 tool results; 1 with thinking" in line


def test_records_without_tools_have_no_tools_block(runner):
    runner.write("a.jsonl", json.dumps({"prompt": "Hi", "response": "Hello there."}) + "\n")
    stats, kept, _ = runner.run([{"path": "a.jsonl"}], task="sft")
    assert len(kept) == 1 and "tools" not in stats


def test_reason_key_of_other_reasons_is_unchanged():
    assert reason_key("near-duplicate of a.jsonl:3 (jaccard 0.91)") == "near-duplicate"
    assert reason_key("turn 2: a tool result without a tool call before it") == (
        "a tool result without a tool call before it"
    )
