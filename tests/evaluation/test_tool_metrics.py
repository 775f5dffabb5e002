"""Tool-call metrics: each outcome a reply can have against the reference calls, and the n behind each rate."""

import json
import math

import pytest

from lmforge.evaluation.metrics import records_behind
from lmforge.evaluation.tool_metrics import TOOL_METRICS, reference_calls, tool_metrics
from lmforge.tasks.sft import answer_text


def call(name: str, args) -> dict:
    """A reference call as prepare writes it (arguments an object) or as OpenAI's JSON text."""
    return {"type": "function", "function": {"name": name, "arguments": args}}


def reply(*calls: tuple[str, str]) -> str:
    """A Hermes-style reply; each call's arguments given as raw JSON text (so type mistakes stay)."""
    return "\n".join(f'<tool_call>\n{{"name": "{n}", "arguments": {a}}}\n</tool_call>' for n, a in calls)


WEATHER = [call("get_weather", {"city": "Paris", "days": 5})]


def one(reference: list[dict], text: str) -> dict:
    return tool_metrics([reference], [text])


def test_right_call_matches_with_json_text_or_object_arguments():
    m = one(WEATHER, reply(("get_weather", '{"days": 5, "city": "Paris"}')))  # other key order
    assert m["tool_name_match"] == m["tool_args_match"] == m["tool_call_match"] == 1.0
    assert m["tool_missed_calls"] == 0.0 and m["tool_valid_json"] == 1.0
    as_text = [call("get_weather", json.dumps({"city": "Paris", "days": 5}))]  # OpenAI's JSON text
    assert one(as_text, reply(("get_weather", '{"city": "Paris", "days": 5}')))["tool_call_match"] == 1.0


def test_numbers_compare_as_numbers_strings_and_booleans_do_not():
    assert one(WEATHER, reply(("get_weather", '{"city": "Paris", "days": 5.0}')))["tool_call_match"] == 1.0
    wrong_type = one(WEATHER, reply(("get_weather", '{"city": "Paris", "days": "5"}')))
    assert wrong_type["tool_name_match"] == 1.0
    assert wrong_type["tool_args_match"] == wrong_type["tool_call_match"] == 0.0
    flag = [call("set_alarm", {"on": True})]
    assert one(flag, reply(("set_alarm", '{"on": 1}')))["tool_args_match"] == 0.0
    assert one(flag, reply(("set_alarm", '{"on": true}')))["tool_args_match"] == 1.0


def test_wrong_name_extra_and_missing_arguments():
    m = one(WEATHER, reply(("get_forecast", '{"city": "Paris", "days": 5}')))
    assert (m["tool_name_match"], m["tool_args_match"], m["tool_call_match"]) == (0.0, 1.0, 0.0)
    extra = one(WEATHER, reply(("get_weather", '{"city": "Paris", "days": 5, "units": "C"}')))
    missing = one(WEATHER, reply(("get_weather", '{"city": "Paris"}')))
    for m in (extra, missing):
        assert (m["tool_name_match"], m["tool_args_match"], m["tool_call_match"]) == (1.0, 0.0, 0.0)


def test_parallel_calls_match_in_any_order_as_a_multiset():
    ref = [call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Rome"})]
    swapped = reply(("get_weather", '{"city": "Rome"}'), ("get_weather", '{"city": "Paris"}'))
    assert one(ref, swapped)["tool_call_match"] == 1.0
    twice = reply(("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Paris"}'))
    m = one(ref, twice)  # the same names, but Rome never asked for
    assert (m["tool_name_match"], m["tool_call_match"]) == (1.0, 0.0)
    assert one(ref, reply(("get_weather", '{"city": "Paris"}')))["tool_name_match"] == 0.0


def test_names_and_arguments_must_pair_up():
    ref = [call("a", {"x": 1}), call("b", {"x": 2})]
    crossed = one(ref, reply(("a", '{"x": 2}'), ("b", '{"x": 1}')))
    assert (crossed["tool_name_match"], crossed["tool_args_match"], crossed["tool_call_match"]) == (1, 1, 0)


def test_invalid_json_is_an_attempt_that_is_not_valid_and_not_a_match():
    m = one(WEATHER, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris",}}\n</tool_call>')
    assert m["tool_valid_json"] == 0.0 and m["n_tool_valid_json"] == 1
    assert m["tool_missed_calls"] == 0.0  # it tried
    assert m["tool_name_match"] == m["tool_call_match"] == 0.0


def test_calls_when_none_was_due_and_none_when_one_was():
    refs = [[], [], WEATHER, WEATHER, WEATHER]
    texts = [
        reply(("get_weather", '{"city": "Oslo"}')),  # called when it should not
        "It is sunny in Oslo.",
        "I think it is sunny.",  # did not call when it should
        reply(("get_weather", '{"city": "Paris", "days": 5}')),
        "<tool_call>\nget_weather(Paris)\n</tool_call>",  # tried, not JSON
    ]
    m = tool_metrics(refs, texts)
    assert (m["tool_false_calls"], m["n_tool_false_calls"]) == (0.5, 2)
    assert m["tool_missed_calls"] == pytest.approx(1 / 3) and m["n_tool_missed_calls"] == 3
    assert m["tool_call_match"] == pytest.approx(1 / 3) and m["n_tool_call_match"] == 3
    # attempts: the false call (valid), the right call (valid), the broken one
    assert m["tool_valid_json"] == pytest.approx(2 / 3) and m["n_tool_valid_json"] == 3


def test_a_rate_over_no_records_is_nan_with_n_zero():
    m = tool_metrics([WEATHER], ["no idea"])
    assert math.isnan(m["tool_valid_json"]) and m["n_tool_valid_json"] == 0
    assert math.isnan(m["tool_false_calls"]) and m["n_tool_false_calls"] == 0
    assert set(TOOL_METRICS) | {f"n_{k}" for k in TOOL_METRICS} == set(m)


def test_reference_is_the_last_assistant_turn():
    user = {"role": "user", "content": "Weather in Paris?"}
    assert reference_calls([user, {"role": "assistant", "content": "", "tool_calls": WEATHER}]) == WEATHER
    assert reference_calls([user, {"role": "assistant", "content": "Sunny."}]) == []
    assert reference_calls([user]) is None


def test_sft_target_of_a_call_only_answer_is_the_calls():
    text = answer_text({"role": "assistant", "content": "", "tool_calls": WEATHER})
    assert (
        text
        == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 5}}\n</tool_call>'
    )
    assert tool_metrics([WEATHER], [text])["tool_call_match"] == 1.0  # the parser reads it back
    both = answer_text({"role": "assistant", "content": "Checking.", "tool_calls": WEATHER})
    assert both.startswith("Checking.\n<tool_call>")


def test_records_behind_takes_each_sides_own_n():
    result = {
        "records": 20,
        "base": {"n": 10, "tool_valid_json": 0.5, "n_tool_valid_json": 2},
        "finetuned": {"n": 10, "tool_valid_json": 1.0, "n_tool_valid_json": 9},
    }
    assert records_behind(result, "tool_valid_json", "base") == 2
    assert records_behind(result, "tool_valid_json", "finetuned") == 9
    assert records_behind(result, "rouge_l") == 10 and records_behind(result, "loss") == 20
