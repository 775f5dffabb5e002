"""Tool-calling and thinking records in prepare: OpenAI's fine-tuning format, ShareGPT's function_call /
observation turns, `tools` as JSON text, reasoning traces; each bad record a reject with its reason."""

from __future__ import annotations

import json

import pytest

from lmforge.data.conversation import normalize
from lmforge.data.preference import normalize_pair
from lmforge.data.record import to_record
from lmforge.data.tool_calls import parse_calls, parse_tools, split_thinking

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def openai_record(
    arguments='{"city": "Paris"}', name="get_weather", call_id="c1", result_id="c1", tools=None
):
    return {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                ],
            },
            {"role": "tool", "tool_call_id": result_id, "content": '{"temp": 21}'},
            {"role": "assistant", "content": "21 degrees in Paris."},
        ],
        "tools": [WEATHER] if tools is None else tools,
    }


def test_openai_function_calling_record_is_kept_in_openai_form():
    record = to_record("a:1", openai_record(), {}, "sft", {})
    assert not isinstance(record, str), record
    call = record.fields["messages"][1]
    assert call == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                "id": "c1",
            }
        ],
    }
    assert record.fields["messages"][2] == {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "c1"}
    assert record.fields["tools"] == [WEATHER]
    assert "conversation_fixed" not in record.meta


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"arguments": '{"city": "Paris"'}, "turn 1: arguments of 'get_weather' are not valid JSON"),
        ({"arguments": '"Paris"'}, "turn 1: arguments of 'get_weather' are a str, not a JSON object"),
        ({"name": "get_time"}, "turn 1: call to tool 'get_time', which the record does not declare"),
        (
            {"arguments": '{"days": 2}'},
            "turn 1: arguments of 'get_weather' break the declared schema: 'city' is a required property",
        ),
        (
            {"arguments": '{"city": "Paris", "days": "two"}'},
            "turn 1: arguments of 'get_weather' break the declared schema: 'two' is not of type 'integer' (at days)",
        ),
        ({"result_id": "c9"}, "turn 2: tool result for call id 'c9', which no call before it has"),
        ({"tools": "[{not json"}, "field 'tools' is not valid JSON"),
        ({"tools": [{"description": "no name"}]}, "tool 0 has no function name"),
        (
            {"tools": [{"name": "get_weather", "parameters": {"type": "dict", "properties": {}}}]},
            "turn 1: arguments of 'get_weather': the declared parameters are not a valid JSON Schema",
        ),
    ],
)
def test_bad_tool_records_are_rejects_with_reasons(change, reason):
    got = to_record("a:1", openai_record(**change), {}, "sft", {})
    assert isinstance(got, str) and got.startswith(reason), got


def test_tool_result_without_a_call_is_a_reject():
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "tool", "content": "42"},
        {"role": "assistant", "content": "ok"},
    ]
    assert normalize(turns) == "turn 1: a tool result without a tool call before it"


def test_sharegpt_function_call_and_observation_with_tools_as_json_text():
    row = {
        "conversations": [
            {"from": "human", "value": "Weather in Paris?"},
            {"from": "gpt", "value": "Let me look."},
            {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
            {"from": "observation", "value": '{"temp": 21}'},
            {"from": "gpt", "value": "21 degrees."},
        ],
        "tools": json.dumps([WEATHER["function"]]),  # LLaMA-Factory's bare function list, as text
    }
    record = to_record("a:1", row, {"messages": "conversations"}, "sft", {})
    assert not isinstance(record, str), record
    msgs = record.fields["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"]
    assert msgs[1]["content"] == "Let me look."  # the text and its call: one assistant turn, not a fix
    assert msgs[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert record.fields["tools"] == [WEATHER]
    assert "conversation_fixed" not in record.meta


def test_parallel_calls_and_their_results_in_order():
    calls = [
        {
            "id": "a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
    ]
    turns = [
        {"role": "user", "content": "Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "b", "content": "25"},
        {"role": "tool", "tool_call_id": "a", "content": "21"},
        {"role": "assistant", "content": "Paris 21, Rome 25."},
    ]
    msgs, fixes = normalize(turns, tools=[WEATHER])
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool", "assistant"] and fixes == {}
    turns[3] = {"role": "tool", "tool_call_id": "b", "content": "again"}
    assert (
        normalize(turns, tools=[WEATHER])
        == "turn 3: tool result for call id 'b', which no call before it has"
    )


def test_a_conversation_ending_with_a_call_trains_the_call_and_trailing_results_are_dropped():
    record = openai_record()
    record["messages"] = record["messages"][:3]  # ends with the tool's result
    msgs, fixes = normalize(record["messages"], tools=[WEATHER])
    assert msgs[-1]["role"] == "assistant" and msgs[-1]["tool_calls"] and fixes == {"trailing_user": 1}
    assert normalize(record["messages"], "reject", [WEATHER]) == "conversation ends with a tool turn (turn 2)"


def test_thinking_from_reasoning_content_or_a_think_block():
    turns = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\nFour."},
        {"role": "user", "content": "3+3?"},
        {"role": "assistant", "content": "Six.", "reasoning_content": "add again"},
    ]
    msgs, _ = normalize(turns)
    assert msgs[1] == {"role": "assistant", "content": "Four.", "reasoning_content": "add them"}
    assert msgs[3] == {"role": "assistant", "content": "Six.", "reasoning_content": "add again"}
    assert split_thinking({}, "No think block.") == (None, "No think block.")


def test_legacy_function_call_and_bare_tools():
    assert parse_tools({"name": "f"}) == [{"type": "function", "function": {"name": "f"}}]
    assert parse_calls({"name": "f", "arguments": ""}, "turn 1") == [
        {"type": "function", "function": {"name": "f", "arguments": {}}}
    ]
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "ok"},
        {"role": "assistant", "content": "Done."},
    ]
    msgs, _ = normalize(turns)
    assert msgs[1]["tool_calls"][0]["function"]["name"] == "f" and msgs[2] == {
        "role": "tool",
        "content": "ok",
        "name": "f",
    }


def test_preference_tool_calls_are_rejected_not_dropped():
    """axolotl #3824: DPO dropped `tool_calls` silently; here such a pair is a reject that says why."""
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}],
    }
    got = normalize_pair({"prompt": "Hi", "chosen": [call], "rejected": "No."})
    assert got == "'chosen' is a tool call: preference pairs of tool calls are not supported yet"
