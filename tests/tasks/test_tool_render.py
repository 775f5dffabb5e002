"""Tool calls and thinking through chat templates: the real templates of Qwen2.5, Qwen3 and Llama 3.1 (as
TRL ships them, byte for byte, in trl/chat_templates/) token for token against `apply_chat_template`; the
default tool template for the built-in model's ChatML and the GPT-2 fallback; loss masks; keep/last/drop."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from test_render_parity import CONVERSATIONS, reference_encode

from lmforge.formatting.templates import chat_texts, encode_chat, encode_prompt, ensure_chat_template, render
from lmforge.formatting.tool_template import prepare_template, with_tool_support
from lmforge.models import load_tokenizer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOLS = [WEATHER]
U = {"role": "user", "content": "Weather in Paris and Rome?"}


def call(city, cid):
    return {"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}


CALL = {"role": "assistant", "content": "", "tool_calls": [call("Paris", "a")]}
TEXT_CALL = {"role": "assistant", "content": "Checking.", "tool_calls": [call("Rome", "b")]}
R1 = {"role": "tool", "tool_call_id": "a", "content": '{"temp": 21}'}
R2 = {"role": "tool", "tool_call_id": "b", "content": '{"temp": 25}'}
FINAL = {"role": "assistant", "content": "Paris 21, Rome 25."}
AGENT = [
    [U, CALL],  # the call is the answer
    [U, CALL, R1, FINAL],
    [{"role": "system", "content": "Be brief."}, U, CALL, R1, TEXT_CALL, R2, FINAL],
    [U, {**CALL, "tool_calls": [call("Paris", "a"), call("Rome", "b")]}, R1, R2, FINAL],  # parallel calls
]


def trl_template(name):
    """A model's original chat template as TRL ships it (TRL is in the [bench] extra `make test` installs)."""
    spec = importlib.util.find_spec("trl")
    if spec is None:
        pytest.skip("trl is not installed")
    return (Path(spec.submodule_search_locations[0]) / "chat_templates" / f"{name}.jinja").read_text()


@pytest.fixture(scope="module")
def builtin_tok():
    from lmforge.models import BUILTIN_ALIAS

    return load_tokenizer(BUILTIN_ALIAS)


def with_template(tok, template, **special):
    """A copy of the tokenizer with another chat template (and the template's special tokens added)."""
    import copy

    tok = copy.deepcopy(tok)
    if special:
        tok.add_special_tokens({"additional_special_tokens": list(special.values())})
        tok.eos_token = special["eos"]
    tok.chat_template = template
    return tok


LLAMA_SPECIAL = {
    "bos": "<|begin_of_text|>",
    "head": "<|start_header_id|>",
    "end": "<|end_header_id|>",
    "eos": "<|eot_id|>",
}


@pytest.fixture(scope="module", params=["qwen2_5", "qwen3", "llama3_1"])
def model_tok(request, builtin_tok):
    """The built-in model's BPE (ChatML's markers are its special tokens) under a real model's template."""
    special = LLAMA_SPECIAL if request.param.startswith("llama") else {}
    return with_template(builtin_tok, trl_template(request.param), **special)


def single_call(conversations):
    """Llama 3.1's template takes one call per assistant turn (it raises on more)."""
    return [c for c in conversations if all(len(m.get("tool_calls") or []) <= 1 for m in c)]


@pytest.mark.parametrize("gen", [False, True])
def test_real_templates_render_tools_as_apply_chat_template(model_tok, gen):
    for messages in single_call(AGENT) if "python_tag" in model_tok.chat_template else AGENT:
        want = model_tok.apply_chat_template(messages, tools=TOOLS, tokenize=False, add_generation_prompt=gen)
        assert render(model_tok, messages, gen, TOOLS) == want


def test_real_templates_encode_token_for_token(model_tok):
    """Training tokens = the reference encoding (apply_chat_template per prefix, tools passed); the tokens
    before each answer = encode_prompt's, what generate and serve send for that conversation."""
    for messages in single_call(AGENT) if "python_tag" in model_tok.chat_template else AGENT:
        ids, labels = encode_chat(model_tok, messages, tools=TOOLS)
        qwen3 = "reasoning_content" in model_tok.chat_template  # renders history otherwise than the last turn
        assert (ids, labels) == reference_encode(model_tok, messages, tools=TOOLS, history_as_context=qwen3)
        assert_last_prompt_is_inference_prompt(model_tok, messages, ids, labels, TOOLS)


def assert_last_prompt_is_inference_prompt(tok, messages, ids, labels, tools, thinking="keep"):
    """The text before the last answer is what inference renders for the conversation so far; its tokens
    are encode_prompt's where it is one piece (one trained turn). With several trained turns the history
    is tokenised piece by piece, so a BPE merge across a boundary (a header's "\\n\\n" then the answer) may
    differ from the whole prompt's tokens (docs/formats.md says so)."""
    start = max(j for j in range(1, len(labels)) if labels[j] != -100 and labels[j - 1] == -100)
    prompt = encode_prompt(tok, messages[:-1], tools, thinking)
    assert tok.decode(ids[:start]) == render(tok, messages[:-1], True, tools, thinking)
    if sum(1 for j in range(1, len(labels)) if labels[j] != -100 and labels[j - 1] == -100) == 1:
        assert ids[:start] == prompt


@pytest.mark.parametrize("fixture", ["llama_tok", "gpt2_tok"])
def test_default_tool_template_leaves_plain_conversations_unchanged(fixture, request):
    tok = request.getfixturevalue(fixture)
    original = tok.chat_template
    tool_tok = with_template(tok, with_tool_support(original))
    for messages in CONVERSATIONS:
        for gen in (False, True):
            assert render(tool_tok, messages, gen) == render(tok, messages, gen)


def test_default_tool_template_renders_hermes_style(llama_tok):
    tok = with_template(llama_tok, with_tool_support(llama_tok.chat_template))
    text = render(
        tok, [{"role": "system", "content": "Be brief."}, U, CALL, R1, TEXT_CALL, R2, FINAL], tools=TOOLS
    )
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions")
    assert '<tools>\n{"type": "function", "function": {"name": "get_weather", ' in text
    assert text.endswith(
        "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
        '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n'
        '<|im_start|>assistant\nChecking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call><|im_end|>\n'
        '<|im_start|>user\n<tool_response>\n{"temp": 25}\n</tool_response><|im_end|>\n'
        "<|im_start|>assistant\nParis 21, Rome 25.<|im_end|>\n"
    )
    assert render(tok, [U], True, TOOLS).endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("fixture", ["llama_tok", "gpt2_tok"])
def test_loss_on_assistant_text_and_calls_only(fixture, request):
    """Assistant turns carry loss (text and call text, through EOS); tool results, tool definitions, system
    and user turns do not."""
    tok = request.getfixturevalue(fixture)
    tok = with_template(tok, with_tool_support(tok.chat_template))
    messages = [{"role": "system", "content": "Be brief."}, U, CALL, R1, TEXT_CALL, R2, FINAL]
    ids, labels = encode_chat(tok, messages, tools=TOOLS)
    trained = tok.decode([t for t, lab in zip(ids, labels, strict=True) if lab != -100])
    eos = tok.eos_token
    assert trained == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        + eos
        + 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>'
        + eos
        + "Paris 21, Rome 25."
        + eos
    )
    assert (ids, labels) == reference_encode(tok, messages, tools=TOOLS)


def test_prepare_template_writes_the_tool_branch_once_and_saves_it(llama_tok, tmp_path):
    tok = with_template(llama_tok, llama_tok.chat_template)
    prepare_template(tok, tools=True)
    once = tok.chat_template
    assert "<tool_call>" in once and prepare_template(tok, tools=True).chat_template == once
    tok.save_pretrained(tmp_path)
    again = load_tokenizer(str(tmp_path))
    assert again.apply_chat_template([U, CALL], tools=TOOLS, tokenize=False) == render(
        tok, [U, CALL], tools=TOOLS
    )


# ---------------------------------------------------------------- thinking: keep / last / drop
THINK_LOOP = [
    U,
    {**CALL, "reasoning_content": "Paris first."},
    R1,
    {"role": "assistant", "content": "Paris 21.", "reasoning_content": "It answered 21."},
]
THINK_CHAT = [
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "Four.", "reasoning_content": "add"},
    {"role": "user", "content": "3+3?"},
    {"role": "assistant", "content": "Six.", "reasoning_content": "add again"},
]


def own_messages(messages, mode):
    """What the template itself is given for a mode: reasoning of every turn, of the last, or none."""
    last = len(messages) - 1 if messages[-1]["role"] == "assistant" else -1  # a prompt's history: none
    keep = {"keep": lambda i: True, "last": lambda i: i == last, "drop": lambda i: False}[mode]
    return [
        m
        if "reasoning_content" not in m or keep(i)
        else {k: v for k, v in m.items() if k != "reasoning_content"}
        for i, m in enumerate(messages)
    ]


@pytest.fixture(scope="module")
def qwen3_tok(builtin_tok):
    return with_template(builtin_tok, trl_template("qwen3"))


@pytest.mark.parametrize("mode", ["keep", "last", "drop"])
@pytest.mark.parametrize("messages", [THINK_LOOP, THINK_CHAT])
def test_qwen3_renders_keep_last_drop_as_its_own_template(qwen3_tok, messages, mode):
    switch = {"enable_thinking": False} if mode == "drop" else {}
    for gen, msgs in ((False, messages), (True, messages[:-1])):
        want = qwen3_tok.apply_chat_template(
            own_messages(msgs, mode), tools=TOOLS, tokenize=False, add_generation_prompt=gen, **switch
        )
        assert render(qwen3_tok, msgs, gen, TOOLS, mode) == want


@pytest.mark.parametrize(
    "mode, messages, trained",
    [
        # one user query: Qwen3 keeps the reasoning of every turn after it, and each turn is trained
        (
            "keep",
            THINK_LOOP,
            [
                "<think>\nParis first.\n</think>\n\n<tool_call>",
                "<think>\nIt answered 21.\n</think>\n\nParis 21.",
            ],
        ),
        # the earlier turn, rendered as history without its reasoning: context; the last trained
        ("last", THINK_LOOP, ["<think>\nIt answered 21.\n</think>\n\nParis 21."]),
        (
            "drop",
            THINK_LOOP,
            ["Paris 21."],
        ),  # the empty think block is the generation prompt's (enable_thinking off)
        (
            "keep",
            THINK_CHAT,
            ["<think>\nadd again\n</think>\n\nSix."],
        ),  # Qwen3 drops reasoning before the last query
    ],
)
def test_qwen3_masks_follow_its_template(qwen3_tok, mode, messages, trained):
    pieces = chat_texts(qwen3_tok, messages, tools=TOOLS, thinking=mode)
    answers = pieces[1::2]
    assert len(answers) == len(trained)
    for answer, start in zip(answers, trained, strict=True):
        assert answer.startswith(start) and answer.rstrip("\n").endswith("<|im_end|>")
    ids, labels = encode_chat(qwen3_tok, messages, tools=TOOLS, thinking=mode)
    assert_last_prompt_is_inference_prompt(qwen3_tok, messages, ids, labels, TOOLS, mode)


def test_prepare_template_saves_qwen3s_switch_for_drop(qwen3_tok):
    tok = with_template(qwen3_tok, qwen3_tok.chat_template)
    prepare_template(tok, thinking="drop")
    assert tok.apply_chat_template([U], tokenize=False, add_generation_prompt=True).endswith(
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )  # inference without the switch sends the prompt drop trained on
    assert tok.apply_chat_template(
        [U], tokenize=False, add_generation_prompt=True, enable_thinking=True
    ).endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("mode, want", [("keep", 2), ("last", 1), ("drop", 0)])
def test_builtin_template_puts_kept_reasoning_in_the_answer(llama_tok, mode, want):
    tok = ensure_chat_template(llama_tok)
    ids, labels = encode_chat(tok, THINK_CHAT, thinking=mode)
    trained = tok.decode([t for t, lab in zip(ids, labels, strict=True) if lab != -100])
    assert trained.count("<think>\n") == want and "Four." in trained and "Six." in trained
    assert ("<think>\nadd again\n</think>\n\nSix." in trained) == (mode != "drop")


def test_split_with_tools_is_found_by_its_keys(tmp_path):
    """token_cache installs the tool branch when train.jsonl holds tools or calls (as prepare writes them)."""
    import json

    from lmforge.formatting.token_cache import mentions_tools

    plain, tools = tmp_path / "plain.jsonl", tmp_path / "tools.jsonl"
    plain.write_text(json.dumps({"messages": [U, FINAL]}) + "\n")
    tools.write_text(json.dumps({"messages": [U, CALL], "tools": TOOLS}) + "\n")
    assert not mentions_tools(plain) and mentions_tools(tools)
