"""The reply parser on outputs in the forms real models write: Hermes/Qwen `<tool_call>` blocks, Llama 3.1's
bare JSON, Mistral's `[TOOL_CALLS]`, `<think>` reasoning; malformed calls are reported, not raised; and
calls rendered by lmforge's default tool template and by Qwen2.5's own template parse back to themselves."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lmforge.formatting.tool_parse import llama_style, parse_assistant, split_reasoning
from lmforge.formatting.tool_template import template_messages, with_tool_support


def fn(reply, k=0):
    return reply.tool_calls[k]["function"]


def args(reply, k=0):
    return json.loads(fn(reply, k)["arguments"])


def test_qwen_single_call_is_all_calls():
    # Qwen2.5-7B-Instruct's reply to "What's the weather in Paris?" with a get_weather tool
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>'
    r = parse_assistant(text)
    assert r.content is None and r.errors == [] and r.reasoning is None
    assert len(r.tool_calls) == 1
    call = r.tool_calls[0]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert fn(r)["name"] == "get_weather"
    assert args(r) == {"city": "Paris", "unit": "celsius"}


def test_text_before_and_several_calls():
    text = (
        "I'll look up both cities.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>'
    )
    r = parse_assistant(text)
    assert r.content == "I'll look up both cities."
    assert [args(r, k)["city"] for k in range(2)] == ["Paris", "Rome"]
    assert r.tool_calls[0]["id"] != r.tool_calls[1]["id"]


def test_malformed_json_stays_in_content_with_an_error():
    bad = '<tool_call>\n{"name": "get_weather", "arguments": {\'city\': \'Paris\',}}\n</tool_call>'
    good = '<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET"}}\n</tool_call>'
    r = parse_assistant(bad + "\n" + good)
    assert [fn(r, k)["name"] for k in range(len(r.tool_calls))] == ["get_time"]
    assert len(r.errors) == 1 and "tool call 1" in r.errors[0] and "not JSON" in r.errors[0]
    assert r.content == bad  # the model's text, as it wrote it


def test_missing_name_and_non_object_arguments_are_errors():
    r = parse_assistant('<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>')
    assert r.tool_calls == [] and "no function name" in r.errors[0]
    r = parse_assistant('<tool_call>\n{"name": "f", "arguments": [1, 2]}\n</tool_call>')
    assert r.tool_calls == [] and "not an object" in r.errors[0]
    r = parse_assistant("<tool_call>\n[1, 2]\n</tool_call>")
    assert r.tool_calls == [] and "JSON list" in r.errors[0]


def test_unterminated_block():
    # the reply ran out of tokens after the JSON: the call is whole, so it counts
    r = parse_assistant('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n')
    assert r.errors == [] and args(r) == {"city": "Oslo"} and r.content is None
    # ... and in the middle of the JSON: an error, the text stays
    cut = 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"ci'
    r = parse_assistant(cut)
    assert r.tool_calls == [] and "no </tool_call>" in r.errors[0]
    assert r.content == cut


def test_arguments_as_json_text_and_parameters_key():
    # some fine-tunes write the arguments as a string of JSON, or name them "parameters"
    r = parse_assistant('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>')
    assert args(r) == {"x": 1}
    r = parse_assistant('<tool_call>{"name": "f", "parameters": {"x": 2}}</tool_call>')
    assert args(r) == {"x": 2}
    r = parse_assistant('<tool_call>{"name": "f"}</tool_call>')
    assert args(r) == {}
    r = parse_assistant('<tool_call>{"name": "city_info", "arguments": {"city": "Zürich"}}</tool_call>')
    assert "Zürich" in fn(r)["arguments"]  # non-ASCII kept as written, not \\u escapes


def test_thinking_then_call():
    # Qwen3's form: reasoning, then the call
    text = (
        "<think>\nThe user wants the weather; I should call get_weather.\n</think>\n\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lima"}}\n</tool_call>'
    )
    r = parse_assistant(text)
    assert r.reasoning == "The user wants the weather; I should call get_weather."
    assert r.content is None and args(r) == {"city": "Lima"}


def test_reasoning_comes_before_the_calls():
    call = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    r = parse_assistant(call + "\n<think>late</think>")
    assert r.reasoning is None and r.content == "<think>late</think>" and len(r.tool_calls) == 1
    r = parse_assistant('{"name": "f", "parameters": {}}<think>x</think>', LLAMA31_LIKE)
    assert r.reasoning is None and r.tool_calls == []  # a bare call with text after it is no call


def test_reasoning_forms():
    assert split_reasoning("no tags") == (None, "no tags")
    # DeepSeek-R1: the prompt opened <think>, the reply holds only the closing tag
    assert split_reasoning("Let me add.\n2+2=4\n</think>\n\nThe answer is 4.") == (
        "Let me add.\n2+2=4",
        "The answer is 4.",
    )
    r = parse_assistant("<think>\nhmm, long")  # ran out of tokens while thinking
    assert r.reasoning == "hmm, long" and r.content is None
    r = parse_assistant("<think>\n\n</think>\n\nHello!")  # Qwen3 with thinking off: an empty block
    assert r.reasoning is None and r.content == "Hello!"
    # a <tool_call> inside the reasoning is thought about, not made
    r = parse_assistant('<think>maybe <tool_call>{"name": "f"}</tool_call>?</think>No call needed.')
    assert r.tool_calls == [] and r.content == "No call needed."


def test_calls_off_keeps_the_block_as_content():
    text = '<think>x</think><tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    r = parse_assistant(text, calls=False)
    assert r.tool_calls == [] and r.reasoning == "x" and r.content == text[len("<think>x</think>") :]


def test_plain_reply_is_content():
    r = parse_assistant("The capital of France is Paris.")
    assert r.content == "The capital of France is Paris." and r.tool_calls == [] and r.errors == []
    assert parse_assistant("   \n").content is None


LLAMA31_LIKE = 'Respond in the format {"name": function name, "parameters": dictionary}. <|python_tag|>'


def test_llama31_bare_json_only_under_its_template():
    text = '{"name": "get_weather", "parameters": {"city": "Cairo"}}'
    r = parse_assistant(text, LLAMA31_LIKE)
    assert fn(r)["name"] == "get_weather" and args(r) == {"city": "Cairo"} and r.content is None
    # the same text from a model whose template does not ask for it is an answer that happens to be JSON
    assert parse_assistant(text).tool_calls == [] and parse_assistant(text).content == text
    two = '<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"n": 1}}'
    r = parse_assistant(two, LLAMA31_LIKE)
    assert [fn(r, k)["name"] for k in range(2)] == ["a", "b"] and args(r, 1) == {"n": 1}
    # JSON that is not a call, and prose, stay content
    for plain in ('{"answer": 42}', "The weather is sunny.", '{"name": "a", "parameters": {}} and more'):
        r = parse_assistant(plain, LLAMA31_LIKE)
        assert r.tool_calls == [] and r.content == plain


def trl_template(name: str) -> str:
    """A model's original chat template as TRL ships it (TRL is in the [bench] extra `make test` installs)."""
    spec = importlib.util.find_spec("trl")
    if spec is None:
        pytest.skip("trl is not installed")
    return (Path(spec.submodule_search_locations[0]) / "chat_templates" / f"{name}.jinja").read_text()


def test_llama31_template_detected():
    assert llama_style(trl_template("llama3_1"))
    assert not llama_style(trl_template("qwen2_5")) and not llama_style(trl_template("qwen3"))
    assert not llama_style(with_tool_support("{% for m in messages %}<|im_start|>{% endfor %}"))


def test_mistral_forms():
    r = parse_assistant('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Bern"}}]')
    assert args(r) == {"city": "Bern"} and r.content is None
    r = parse_assistant('Checking.[TOOL_CALLS]get_weather[ARGS]{"city": "Bern"}[TOOL_CALLS]now[ARGS]{}')
    assert [fn(r, k)["name"] for k in range(2)] == ["get_weather", "now"] and r.content == "Checking."
    r = parse_assistant("[TOOL_CALLS][{'name': 'x'}]")
    assert r.tool_calls == [] and r.errors and r.content == "[TOOL_CALLS][{'name': 'x'}]"


def _render(template: str, messages: list, tools: list) -> str:
    from transformers.utils.chat_template_utils import _compile_jinja_template

    return _compile_jinja_template(template).render(
        messages=template_messages(messages, template), tools=tools, add_generation_prompt=False
    )


CALLS = [
    {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {
        "id": "b",
        "type": "function",
        "function": {"name": "search", "arguments": '{"q": "x \\"y\\"", "n": 3}'},
    },
]
TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("get_weather", "search")
]


CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"


@pytest.mark.parametrize("content", [None, "Let me check."])
@pytest.mark.parametrize("which", ["default", "qwen2_5", "qwen3"])
def test_round_trip_through_templates(content, which):
    """What lmforge's default tool template, and Qwen's own, render as an assistant turn parses back to
    the same calls (and content)."""
    template = with_tool_support(CHATML) if which == "default" else trl_template(which)
    user = {"role": "user", "content": "Weather in Paris? And search x."}
    head = _render(template, [user], TOOLS)
    full = _render(template, [user, {"role": "assistant", "content": content, "tool_calls": CALLS}], TOOLS)
    reply = full[len(head) :].removeprefix("<|im_start|>assistant\n").removesuffix("<|im_end|>\n")
    r = parse_assistant(reply, template)
    assert r.errors == [] and r.content == content
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in r.tool_calls] == [
        (c["function"]["name"], json.loads(c["function"]["arguments"])) for c in CALLS
    ]
