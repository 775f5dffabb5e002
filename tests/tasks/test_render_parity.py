"""The fast render path (one compiled template per tokenizer, fewer renders, batched tokenising) gives
exactly what `tokenizer.apply_chat_template` and the straightforward per-turn encoding give."""

from __future__ import annotations

import pytest

from lmforge.config import TaskConfig
from lmforge.formatting.templates import chat_labels, encode_chat, ensure_chat_template, render, renderer
from lmforge.models import load_tokenizer
from lmforge.tasks import get_task

SYS = {"role": "system", "content": "Answer in one line."}
U1 = {"role": "user", "content": "Hi"}
A1 = {"role": "assistant", "content": "Hello!"}
U2 = {"role": "user", "content": "Grüße, 你好, 🙂 — ça va?\n\n  indented"}
A2 = {"role": "assistant", "content": "\nLeading newline, trailing space "}
U3 = {"role": "user", "content": ""}
A3 = {"role": "assistant", "content": "{{ not jinja }} {% raw %} <|im_end|> tail"}
CONVERSATIONS = [
    [U1],
    [SYS, U1],
    [U1, A1],
    [SYS, U1, A1],
    [U1, A1, U2, A2],
    [SYS, U1, A1, U2, A2, U3, A3],
    [A1, U1, A2],  # an opening assistant turn is context
    [U2, A2, U1],  # ends with a user turn
    [SYS, U1, A1, U1, A1],  # the same turn twice
]


def reference_encode(tok, messages, train_on_prompt=False, tools=None, history_as_context=False):
    """The encoding as it was before the fast path: apply_chat_template for every prefix, pieces tokenised
    one call each. `history_as_context`: an earlier assistant turn that the template renders otherwise as
    history than as the last turn is context (Qwen3's templates; the last turn must fit)."""

    def draw(msgs, gen=False):
        return tok.apply_chat_template(msgs, tools=tools, tokenize=False, add_generation_prompt=gen)

    full, bounds = draw(messages), [0]
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and i > 0:
            texts = (draw(messages[:i], True), draw(messages[: i + 1]))
            if history_as_context and i != last and not all(full.startswith(t) for t in texts):
                continue
            for text in texts:
                assert full.startswith(text)
                bounds.append(len(text))
    bounds.append(len(full))
    ids = [
        tok(full[a:b], add_special_tokens=False)["input_ids"]
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    return chat_labels(tok, messages, ids, train_on_prompt)


@pytest.fixture(params=["llama_tok", "gpt2_tok"])
def tok(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("gen", [False, True])
@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_render_equals_apply_chat_template(tok, messages, gen):
    want = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
    assert render(tok, messages, gen) == want == renderer(tok)(messages, gen)


@pytest.mark.parametrize("train_on_prompt", [False, True])
@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_encode_chat_equals_the_reference(tok, messages, train_on_prompt):
    assert encode_chat(tok, messages, train_on_prompt) == reference_encode(tok, messages, train_on_prompt)


JINJA_FEATURES = (
    "{%- set ns = namespace(n=0) -%}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' and m['content'] == 'boom' %}{{ raise_exception('no boom') }}{% endif %}"
    "{% if loop.index > 4 %}{% break %}{% endif %}"
    "{%- set ns.n = ns.n + 1 %}\n"
    "    {% if true %}<{{ m['role'] }}>{% endif %}{{ m | tojson }}{{ dict(a=1) | tojson }}"
    "{% generation %}{{ eos_token }}{% endgeneration %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<assistant n={{ ns.n }} y={{ strftime_now('%Y')|length }}>{% endif %}"
)


def test_transformers_jinja_environment_is_the_same(llama_tok):
    """trim/lstrip blocks, loopcontrols, namespace, dict, tojson (no HTML escaping, unicode kept),
    strftime_now, raise_exception, {% generation %}: the same environment as apply_chat_template."""
    ensure_chat_template(llama_tok, JINJA_FEATURES)
    messages = [SYS, U1, {"role": "user", "content": "<b>&'\"</b> ü"}, A1, U2, A2]
    for gen in (False, True):
        want = llama_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
        assert render(llama_tok, messages, gen) == want
    assert '"<b>&\'\\"</b> ü"' in want and want.startswith("<system>")  # trim, lstrip
    from lmforge.errors import UserError

    with pytest.raises(UserError, match="no boom"):
        render(llama_tok, [{"role": "system", "content": "boom"}, U1])


def test_unusual_messages_take_transformers_path(llama_tok):
    """None fields (dropped by transformers) and reasoning fields (aliased by it): its own result."""
    from lmforge.formatting.templates import _plain

    messages = [{"role": "user", "content": "x", "name": None}, {"role": "assistant", "content": "y"}]
    assert not _plain(messages) and not _plain([{**U1, "thinking": "hm"}]) and _plain([U1, A1])
    assert render(llama_tok, messages) == llama_tok.apply_chat_template(messages, tokenize=False)


RECORDS = {
    "sft": [
        {"prompt": "Where is the office?", "response": "In Berlin.", "system": "Be brief."},
        {"instruction": "Translate", "input": "Hallo Welt", "output": "Hello world"},
        {"messages": [U1, A1, U2, A2]},
        {"messages": [{"from": "human", "value": "Ça va?"}, {"from": "gpt", "value": "Oui 🙂"}]},
    ],
    "qa": [{"context": "The office is in Berlin.", "question": "Where?", "answer": "Berlin"}],
    "summarization": [{"document": "A long text about routers.\n\nMore.", "summary": "Routers."}],
    "classification": [{"text": "great", "label": "pos"}, {"text": "awful ☹", "label": "neg"}],
}


def _reference_example(task, record, tok):
    if task.cfg.head == "classifier":
        prompt = tok.apply_chat_template(
            task.prompt_messages(record), tokenize=False, add_generation_prompt=True
        )
        return {
            "input_ids": tok(prompt, add_special_tokens=False)["input_ids"],
            "label": task.label_index(record),
        }
    ids, labels = reference_encode(tok, task.to_messages(record), task.cfg.train_on_prompt)
    return {"input_ids": ids, "labels": labels}


@pytest.mark.parametrize(
    "task_type,options",
    [
        ("sft", {}),
        ("sft", {"train_on_prompt": True, "system": "Be kind."}),
        ("qa", {}),
        ("summarization", {}),
        ("classification", {}),
        ("classification", {"head": "classifier"}),
    ],
)
def test_every_task_encodes_like_the_reference(tok, task_type, options):
    task = get_task(TaskConfig(type=task_type, labels=["neg", "pos"], **options))
    records = RECORDS[task_type]
    got, _ = task.encode_batch(records, tok, 4096)
    assert got == [_reference_example(task, r, tok) for r in records]


def test_causal_lm_is_the_tokenizer_plus_eos(tok):
    task = get_task(TaskConfig(type="causal_lm"))
    got, _ = task.encode_batch([{"text": "Plain text, ünïcode."}, {"text": ""}], tok, 4096)
    for example, text in zip(got, ["Plain text, ünïcode.", ""], strict=True):
        ids = tok(text)["input_ids"]
        want = ids if ids and ids[-1] == tok.eos_token_id else [*ids, tok.eos_token_id]
        assert example == {"input_ids": want, "labels": want}


@pytest.mark.slow
def test_builtin_model_renders_and_encodes_like_the_reference():
    tok = load_tokenizer("smollm2-135m-instruct")  # its tokenizer only: the model is not needed
    for messages in CONVERSATIONS:
        for gen in (False, True):
            assert render(tok, messages, gen) == tok.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=gen
            )
        assert encode_chat(tok, messages) == reference_encode(tok, messages)
    task = get_task(TaskConfig(type="sft"))
    records = RECORDS["sft"] * 3
    assert task.encode_batch(records, tok, 4096)[0] == [_reference_example(task, r, tok) for r in records]


TEXTS = ["Hi", "", "Grüße 🙂\n\n", " leading space", "two  spaces\tand tab", "end"]


def test_token_ids_equal_the_tokenizer_call(tok):
    from lmforge.formatting.templates import _plain_fast, token_ids

    texts = [*TEXTS, f"{tok.eos_token}x{tok.eos_token}\n"]
    assert _plain_fast(tok)  # the fixtures take the direct path
    for special in (False, True):
        assert token_ids(tok, texts, special) == tok(texts, add_special_tokens=special)["input_ids"]
    assert token_ids(tok, []) == []


def test_token_ids_leave_other_tokenizer_states_to_the_call(llama_tok):
    """Truncation on the Rust tokenizer (__call__ turns it off) and split special tokens."""
    from lmforge.formatting.templates import _plain_fast, token_ids

    text = [f"a b c d e f g {llama_tok.eos_token}"]
    llama_tok.backend_tokenizer.enable_truncation(3)
    assert not _plain_fast(llama_tok)
    whole = token_ids(llama_tok, text)
    assert len(whole[0]) > 3 and whole == llama_tok(text, add_special_tokens=False)["input_ids"]
    llama_tok.split_special_tokens = True
    assert not _plain_fast(llama_tok)
    split = token_ids(llama_tok, text)
    assert split != whole and split == llama_tok(text, add_special_tokens=False)["input_ids"]
