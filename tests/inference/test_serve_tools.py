"""Tool calls through `lmforge serve` (a real process on a loopback port) with the official `openai` client.

The model is the tiny Llama (the built-in model's tokenizer) trained here, on the tokens training gives
tool-calling conversations (`encode_chat` with tools, lmforge's default tool template), until its greedy
answers are those conversations word for word: a call for the weather in Paris, two calls for Paris and
Rome, a sentence after the tool's result, a greeting without a call. Served, the same prompts must come
back as `tool_calls`, so the served prompt tokens are the trained ones, and the reply is parsed.
"""

from __future__ import annotations

import json

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from tests.inference.test_server import _start, _stop  # noqa: E402

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
TOOLS = [WEATHER, TIME]
PARIS = {"role": "user", "content": "What is the weather in Paris?"}
BOTH = {"role": "user", "content": "Weather in Paris and Rome, please."}
HI = {"role": "user", "content": "Say hello."}


def _call(cid: str, city: str) -> dict:
    return {
        "id": cid,
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
    }


CALLED = {"role": "assistant", "content": None, "tool_calls": [_call("c1", "Paris")]}
RESULT = {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 21}'}
FINAL = "It is 21 degrees in Paris."
GREETING = "Hello! How can I help you today?"
CONVERSATIONS = [
    [PARIS, CALLED],
    [BOTH, {"role": "assistant", "content": None, "tool_calls": [_call("c1", "Paris"), _call("c2", "Rome")]}],
    [PARIS, CALLED, RESULT, {"role": "assistant", "content": FINAL}],
    [HI, {"role": "assistant", "content": GREETING}],
]


@pytest.fixture(scope="module")
def tool_model(tmp_path_factory) -> str:
    """The tiny Llama trained until its greedy answers are CONVERSATIONS' (teacher-forced accuracy 1)."""
    import torch
    from transformers import AutoModelForCausalLM

    from lmforge.formatting.templates import encode_chat
    from lmforge.formatting.tool_template import prepare_template
    from lmforge.models import load_tokenizer
    from tiny_models import build_tiny_llama

    folder = build_tiny_llama(tmp_path_factory.mktemp("tool_model"))
    tok = prepare_template(load_tokenizer(str(folder)), tools=True)
    rows = [encode_chat(tok, conv, tools=TOOLS) for conv in CONVERSATIONS]
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([i + [tok.pad_token_id] * (width - len(i)) for i, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in rows])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    trained = labels[:, 1:] != -100  # (B, T-1): the positions whose next token is an answer's
    target = labels[:, 1:][trained]  # (N,)
    for _ in range(600):
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, H)
        logits = model.lm_head(hidden[:, :-1][trained])  # (N, V): the head only where there is a label
        sure = logits.softmax(-1)[torch.arange(len(target)), target].min().item()  # the least sure token
        if sure > 0.95:  # greedy gives every answer, with a margin that the server's cached,
            break  # left-padded arithmetic does not undo (a mean loss < 0.05 left single tokens near a tie)
        loss = torch.nn.functional.cross_entropy(logits, target)
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert sure > 0.95, f"the tiny model did not learn the conversations (least sure token {sure:.2f})"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)  # the template with the tool branch, as a run trained with tools saves it
    return str(folder)


@pytest.fixture(scope="module")
def client(tool_model, tmp_path_factory):
    proc, url = _start(tool_model, tmp_path_factory.mktemp("serve_tools") / "log.txt")
    yield openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=60)
    _stop(proc)


def ask(client, messages, **kw):
    """Greedy: the API's default temperature is 1 (OpenAI's), which samples and can leave the memorised
    answer ("Hello! How can I help you How How ...", 1 greeting in 6 measured)."""
    return client.chat.completions.create(model="tiny", messages=messages, max_tokens=64, temperature=0, **kw)


def calls(choice) -> list[tuple[str, dict]]:
    return [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []]


def test_auto_returns_the_calls(client):
    r = ask(client, [PARIS], tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert calls(choice) == [("get_weather", {"city": "Paris"})]
    assert (
        choice.message.tool_calls[0].id.startswith("call_")
        and choice.message.tool_calls[0].type == "function"
    )
    both = ask(client, [BOTH], tools=TOOLS).choices[0]
    assert calls(both) == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    one = ask(client, [BOTH], tools=TOOLS, parallel_tool_calls=False).choices[0]
    assert calls(one) == [("get_weather", {"city": "Paris"})]


def test_no_call_is_content(client):
    for _ in range(3):  # greedy serving is reproducible: the same answer every time
        choice = ask(client, [HI], tools=TOOLS).choices[0]
        assert choice.finish_reason == "stop" and choice.message.tool_calls is None
        assert choice.message.content == GREETING


def test_history_with_a_tool_result(client):
    """The agent loop: the client sends back the assistant message it got, then the tool's result."""
    first = ask(client, [PARIS], tools=TOOLS).choices[0].message
    call_id = first.tool_calls[0].id
    history = [PARIS, first.model_dump(exclude_none=True), {**RESULT, "tool_call_id": call_id}]
    choice = ask(client, history, tools=TOOLS).choices[0]
    assert (
        choice.finish_reason == "stop" and choice.message.content == FINAL and not choice.message.tool_calls
    )


def test_tool_choice_none_renders_without_tools(client):
    auto = ask(client, [PARIS], tools=TOOLS)
    none = ask(client, [PARIS], tools=TOOLS, tool_choice="none")
    assert none.usage.prompt_tokens < auto.usage.prompt_tokens  # the tools are not in the prompt
    assert none.choices[0].message.tool_calls is None and none.choices[0].finish_reason != "tool_calls"
    plain = ask(client, [PARIS])  # no tools at all: the same prompt as none
    assert plain.usage.prompt_tokens == none.usage.prompt_tokens
    assert plain.choices[0].message.tool_calls is None


def test_required_and_named_force_a_call(client):
    named = {"type": "function", "function": {"name": "get_weather"}}
    for choice in ("required", named):
        # where the model calls anyway, the forced opening is the trained one: the same call comes back
        r = ask(client, [PARIS], tools=TOOLS, tool_choice=choice).choices[0]
        assert calls(r) == [("get_weather", {"city": "Paris"})], choice
        # where it would greet, the reply starts as a call all the same
        r = ask(client, [HI], tools=TOOLS, tool_choice=choice).choices[0]
        text = r.message.content or ""
        assert r.message.tool_calls or text.startswith("<tool_call>\n"), (choice, text)
    r = ask(client, [HI], tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}})
    m = r.choices[0].message
    assert [c.function.name for c in m.tool_calls or []] == ["get_time"] or (m.content or "").startswith(
        '<tool_call>\n{"name": "get_time", "arguments":'
    )


def test_streamed_calls_reassemble(client):
    for messages, expected in (([BOTH], 2), ([PARIS], 1)):
        stream = client.chat.completions.create(
            model="tiny", messages=messages, tools=TOOLS, max_tokens=64, temperature=0, stream=True
        )
        parts: dict[int, dict] = {}
        content, finish = "", None
        for chunk in stream:
            delta = chunk.choices[0].delta
            content += delta.content or ""
            for tc in delta.tool_calls or []:  # OpenAI's deltas: pieces of each call by index
                part = parts.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                part["id"] += tc.id or ""
                part["name"] += tc.function.name or ""
                part["arguments"] += tc.function.arguments or ""
            finish = chunk.choices[0].finish_reason or finish
        whole = ask(client, messages, tools=TOOLS).choices[0]
        assert finish == "tool_calls" and content == "" and len(parts) == expected
        assert [(p["name"], json.loads(p["arguments"])) for _, p in sorted(parts.items())] == calls(whole)
        assert all(p["id"].startswith("call_") for p in parts.values())


def test_stream_helper_and_streamed_content(client):
    """The client's own stream helper accumulates the deltas into the final message."""
    strict = [{**t, "function": {**t["function"], "strict": True}} for t in TOOLS]  # the helper wants it
    with client.chat.completions.stream(
        model="tiny", messages=[PARIS], tools=strict, max_tokens=64, temperature=0
    ) as s:
        final = s.get_final_completion()
    assert calls(final.choices[0]) == [("get_weather", {"city": "Paris"})]
    assert final.choices[0].finish_reason == "tool_calls"
    chunks = client.chat.completions.create(
        model="tiny", messages=[HI], tools=TOOLS, max_tokens=64, temperature=0, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == GREETING


def _error(exc_info) -> dict:
    return exc_info.value.response.json()["error"]


@pytest.mark.parametrize(
    ("kw", "param"),
    [
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "book_flight"}}},
            "tool_choice",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [{"type": "function", "function": {"name": "get weather"}}]}, "tools.0.function.name"),
        ({"tools": [{"type": "function"}]}, "tools.0.function"),
        ({"tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice"),
        ({"messages": [PARIS, {"role": "tool", "tool_call_id": "c1", "content": "21"}]}, "messages.1.role"),
        ({"messages": [PARIS, CALLED, {**RESULT, "tool_call_id": "c7"}]}, "messages.2.tool_call_id"),
        ({"messages": [PARIS, CALLED, HI]}, "messages.1.role"),
        (
            {
                "messages": [
                    PARIS,
                    {
                        **CALLED,
                        "tool_calls": [
                            {**_call("c1", "x"), "function": {"name": "get_weather", "arguments": "{city"}}
                        ],
                    },
                    RESULT,
                ]
            },
            "messages.1.tool_calls.0.function.arguments",
        ),
        ({"extra_body": {"functions": [WEATHER["function"]]}}, "functions"),
    ],
)
def test_bad_tool_requests_get_400(client, kw, param):
    kw = {"messages": [PARIS], **kw}
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", max_tokens=4, **kw)
    err = _error(e)
    assert err["type"] == "invalid_request_error" and err["param"] == param, err


@pytest.mark.slow
def test_builtin_model_called_with_tools(tmp_path):
    """The built-in model served, asked with `tools=`: a named tool_choice gives a parsed call (its
    arguments are the untrained model's, not checked), no tools an answer in words."""
    from lmforge.models import BUILTIN_ALIAS

    proc, url = _start(BUILTIN_ALIAS, tmp_path / "log.txt")
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=120)
        named = {"type": "function", "function": {"name": "get_weather"}}
        tokyo = {"role": "user", "content": "Is it raining in Tokyo right now?"}
        r = ask(client, [tokyo], tools=[WEATHER], tool_choice=named).choices[0]
        assert r.finish_reason == "tool_calls", r.message
        assert calls(r)[0][0] == "get_weather" and isinstance(calls(r)[0][1], dict)
        plain = ask(client, [PARIS]).choices[0]  # no tools: an answer in words
        assert plain.message.tool_calls is None and plain.message.content
    finally:
        _stop(proc)
