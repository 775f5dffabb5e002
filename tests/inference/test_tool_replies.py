"""Reply assembly for `lmforge serve`: the whole message (`reply_message`) and the stream of deltas
(`ReplyStream`) agree on every reply, however the text is cut into pieces; forced-call prefixes are
token boundaries of the trained call for the built-in model's tokenizer; the request checks."""

from __future__ import annotations

import json

import pytest

from lmforge.formatting.tool_template import with_tool_support
from lmforge.inference.schemas import ChatRequest
from lmforge.inference.tool_replies import ReplyStream, ToolPlan, call_prefix, plan_for, reply_message
from lmforge.inference.tool_schemas import tool_problem

CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
HERMES = with_tool_support(CHATML)
LLAMA = 'Respond with {"name": function name, "parameters": dictionary}. <|python_tag|>'
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
REPLIES = [
    "The capital of France is Paris.",
    "  spaced out answer \n",
    CALL,
    "Let me check.\n" + CALL,
    "Let me check.\n" + CALL + "\n" + CALL.replace("Paris", "Rome") + "\nDone.",
    "<think>\nThey want weather.\n</think>\n\n" + CALL,
    "<think>\nA short thought.\n</think>\n\nHello there!",
    "<think>\nran out of tok",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>',  # broken JSON
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}',  # no closing tag
    "I use <tool_ in prose and a lone < sign",
    "[TOOL_CALLS][" + json.dumps({"name": "get_weather", "arguments": {"city": "Bern"}}) + "]",
    ' {"city": "Lima"}}\n</tool_call>',  # a forced call's continuation
    ' {"city": "Lima"}}',
]


def assemble(text: str, plan: ToolPlan, size: int, reason: str = "stop") -> tuple[dict, str]:
    """The message a client rebuilds from the deltas of `text` fed `size` characters at a time."""
    stream = ReplyStream(plan)
    deltas = []
    for k in range(0, len(text), size):
        deltas += stream.feed(text[k : k + size])
    last, finish = stream.finish(reason)
    deltas += last
    content = "".join(d.get("content", "") for d in deltas)
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    calls = [c for d in deltas for c in d.get("tool_calls", [])]
    assert [c["index"] for c in calls] == list(range(len(calls)))
    message = {"content": content or None, "reasoning_content": reasoning or None}
    message["tool_calls"] = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]
    return message, finish


def whole(text: str, plan: ToolPlan, reason: str = "stop") -> tuple[dict, str]:
    m, finish = reply_message(text, reason, plan)
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in m.get("tool_calls", [])]
    out = {
        "content": m["content"] or None,
        "reasoning_content": m.get("reasoning_content"),
        "tool_calls": calls,
    }
    return out, finish


PLANS = {
    "auto": ToolPlan(TOOLS, True, "", HERMES),
    "none": ToolPlan(None, False, "", HERMES),
    "single": ToolPlan(TOOLS, True, "", HERMES, parallel=False),
    "llama": ToolPlan(TOOLS, True, "", LLAMA),
    "required": plan_for(TOOLS, "required", HERMES, None),
    "llama_named": plan_for(TOOLS, {"type": "function", "function": {"name": "get_weather"}}, LLAMA, None),
}


@pytest.mark.parametrize("plan", PLANS, ids=list(PLANS))
@pytest.mark.parametrize("text", REPLIES)
def test_stream_adds_up_to_the_whole_reply(text, plan):
    expected = whole(text, PLANS[plan])
    for size in (1, 2, 3, 7, len(text)):
        assert assemble(text, PLANS[plan], size) == expected, size


def test_whole_replies():
    auto = PLANS["auto"]
    m, finish = reply_message("Let me check.\n" + CALL, "stop", auto)
    assert finish == "tool_calls" and m["content"] == "Let me check."
    assert m["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    m, finish = reply_message(CALL, "length", auto)  # cut by max_tokens: says so, calls still given
    assert finish == "length" and len(m["tool_calls"]) == 1 and m["content"] is None
    m, finish = reply_message(CALL, "stop", PLANS["none"])  # tools off: the text is the answer
    assert finish == "stop" and m == {"role": "assistant", "content": CALL}
    m, _ = reply_message("  as generated ", "stop", PLANS["none"])
    assert m["content"] == "  as generated "  # a plain reply is untouched, as before tools existed
    m, finish = reply_message(CALL + CALL, "stop", PLANS["single"])
    assert len(m["tool_calls"]) == 1
    m, _ = reply_message("<think>\nhmm\n</think>\n\nHi", "stop", PLANS["none"])
    assert m == {"role": "assistant", "content": "Hi", "reasoning_content": "hmm"}
    # a prompt that opened <think> (DeepSeek-R1's template): the reply starts inside the reasoning
    r1 = ToolPlan(None, False, "", CHATML, thinking_open=True)
    assert reply_message("plan\n</think>\n\n42", "stop", r1)[0]["reasoning_content"] == "plan"
    assert reply_message("still planning", "length", r1)[0] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "still planning",
    }
    assert assemble("plan\n</think>\n\n42", r1, 2)[0]["content"] == "42"


def test_forced_prefixes_complete_the_call():
    required = plan_for(TOOLS, "required", HERMES, None)
    assert required.prefill == "<tool_call>\n" and required.tools == TOOLS
    named = plan_for(TOOLS, {"type": "function", "function": {"name": "get_weather"}}, HERMES, None)
    rest = ' {"city": "Paris"}}\n</tool_call>'
    m, finish = reply_message(rest, "stop", named)
    assert finish == "tool_calls" and m["tool_calls"][0]["function"]["name"] == "get_weather"
    assert assemble(rest, named, 3) == whole(rest, named)
    assert plan_for(TOOLS, "none", HERMES, None).tools is None
    assert plan_for([], None, HERMES, None).parse is False
    assert call_prefix(LLAMA, "f") == '{"name": "f", "parameters":' and call_prefix(LLAMA) == '{"name": "'


def test_prefill_tokens_are_the_trained_tokens():
    """The prompt plus the prefill's tokens equal the tokens training gives the call (built-in tokenizer)."""
    from lmforge.formatting.templates import chat_texts, encode_prompt, token_ids
    from lmforge.formatting.tool_template import prepare_template
    from lmforge.models import BUILTIN_ALIAS, load_tokenizer

    tok = prepare_template(load_tokenizer(BUILTIN_ALIAS), tools=True)
    user = {"role": "user", "content": "Weather in Paris?"}
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    messages = [user, {"role": "assistant", "content": None, "tool_calls": [call]}]
    prompt_text, answer, _ = chat_texts(tok, messages, tools=TOOLS)
    trained = token_ids(tok, [prompt_text, answer])
    for prefill in (call_prefix(tok.chat_template), call_prefix(tok.chat_template, "get_weather")):
        assert answer.startswith(prefill)
        served = encode_prompt(tok, [user], tools=TOOLS) + token_ids(tok, [prefill])[0]
        assert served == (trained[0] + trained[1])[: len(served)]


def request(**body) -> ChatRequest:
    body.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatRequest.model_validate(body)


ASSISTANT = {
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools.0.function.name"),
        ({"tools": TOOLS + TOOLS}, "tools.1.function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
            "tools.0.function.parameters",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"messages": [{"role": "tool", "content": "1", "tool_call_id": "c1"}]}, "messages.0.role"),
        (
            {"messages": [ASSISTANT, {"role": "tool", "content": "1", "tool_call_id": "c9"}]},
            "messages.1.tool_call_id",
        ),
        ({"messages": [ASSISTANT, {"role": "user", "content": "and?"}]}, "messages.0.role"),
        (
            {
                "messages": [
                    {
                        **ASSISTANT,
                        "tool_calls": [
                            {**ASSISTANT["tool_calls"][0], "function": {"name": "f", "arguments": "{x"}}
                        ],
                    },
                    {"role": "tool", "content": "1", "tool_call_id": "c1"},
                ]
            },
            "messages.0.tool_calls.0.function.arguments",
        ),
    ],
)
def test_request_problems(body, param):
    req = request(**body)
    problem = tool_problem(req.messages, req.tools or [], req.tool_choice)
    assert problem is not None and problem[1] == param, problem


def test_good_requests_have_no_problem():
    history = [
        {"role": "user", "content": "Weather?"},
        ASSISTANT,
        {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "c1"},
        {"role": "assistant", "content": "21 degrees."},
        {"role": "user", "content": "Thanks"},
    ]
    for choice in (
        None,
        "auto",
        "none",
        "required",
        {"type": "function", "function": {"name": "get_weather"}},
    ):
        req = request(messages=history, tools=TOOLS, tool_choice=choice)
        assert tool_problem(req.messages, req.tools or [], req.tool_choice) is None
    assert (
        request(messages=history).messages[1].for_template()["tool_calls"][0]["function"]["arguments"] == "{}"
    )
