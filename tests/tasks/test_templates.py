"""One render for training and inference: prompt tokens match generate.py's, token for token; EOS trained."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from task_helpers import expected

from lmforge.config import TaskConfig
from lmforge.formatting.templates import FALLBACK_TEMPLATE, PrefixError, encode_chat, encode_prompt, render
from lmforge.inference.generation import _encode
from lmforge.tasks import get_task

RECORDS = {
    "sft": {"prompt": "Where is the office?", "response": "In Berlin.", "system": "Be brief."},
    "qa": {"context": "The office is in Berlin.", "question": "Where?", "answer": "Berlin"},
    "summarization": {"document": "A long text about routers.", "summary": "Routers."},
    "classification": {"text": "great", "label": "pos"},
}


@pytest.mark.parametrize("task_type", list(RECORDS))
@pytest.mark.parametrize("fixture", ["llama_tok", "gpt2_tok"])
def test_training_prompt_tokens_equal_inference_tokens(task_type, fixture, request):
    tok = request.getfixturevalue(fixture)
    task = get_task(TaskConfig(type=task_type, labels=["neg", "pos"]))
    record = RECORDS[task_type]
    ex = task.encode(record, tok, 512)
    first_trained = next(i for i, x in enumerate(ex["labels"]) if x != -100)
    prompt = task.prompt_messages(record)
    inference = _encode(tok, prompt[-1]["content"], False, prompt[0]["content"] if len(prompt) > 1 else None)
    assert ex["input_ids"][:first_trained] == inference == encode_prompt(tok, prompt)


def test_gpt2_fixture_uses_fallback_and_has_no_pad(gpt2_tok, tiny_gpt2):
    from lmforge.models import load_tokenizer

    assert load_tokenizer(tiny_gpt2).pad_token is None
    assert gpt2_tok.chat_template == FALLBACK_TEMPLATE


def test_eos_is_trained_even_when_pad_is_eos(llama_tok):
    assert llama_tok.pad_token_id == llama_tok.eos_token_id
    ids, labels = encode_chat(
        llama_tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    )
    eos_at = [i for i, t in enumerate(ids) if t == llama_tok.eos_token_id]
    assert labels[eos_at[-1]] == llama_tok.eos_token_id  # the assistant's <|im_end|>
    assert all(labels[i] == -100 for i in eos_at[:-1])  # the system and user turns' <|im_end|>


def test_template_without_eos_gives_no_eos_in_labels(llama_tok):
    tok = llama_tok
    saved = tok.chat_template
    tok.chat_template = (
        "{% for m in messages %}{{ m['role'] }}:\n{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:\n{% endif %}"
    )
    try:
        ids, labels = encode_chat(
            tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
        )
    finally:
        tok.chat_template = saved
    assert tok.eos_token_id not in labels
    assert labels == expected(tok, [("user:\nHi\nassistant:\n", False), ("Yo\n", True)])[1]


@pytest.mark.parametrize(
    "template, where",
    [
        # the generation prompt says "bot:" but the conversation says "assistant:"
        (
            "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}"
            "{% if add_generation_prompt %}bot: {% endif %}",
            "the generation prompt",
        ),
        # a template that rewrites history: the last message is rendered differently from earlier ones
        (
            "{% for m in messages %}{{ m['role'] }}:\n{{ m['content'] if loop.last else '...' }}{{ eos_token }}"
            "{% endfor %}{% if add_generation_prompt %}assistant:\n{% endif %}",
            "the generation prompt",
        ),
    ],
)
def test_template_breaking_prefix_property_fails_clearly(llama_tok, template, where):
    tok = llama_tok
    saved = tok.chat_template
    tok.chat_template = template
    try:
        with pytest.raises(PrefixError, match=f"prefix property at message 1: {where} renders"):
            encode_chat(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    finally:
        tok.chat_template = saved


def test_answer_is_tokenised_apart_from_the_prompt(llama_tok):
    """ChatML's "assistant\n" followed by an answer starting with "\n": tokenised whole, the two newlines
    merge into one token, so the prompt's last token would differ from inference's. Tokenised piece by piece,
    the prompt is exactly inference's and the answer exactly what the model must generate after it."""
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "\n Yo"}]
    whole = llama_tok(render(llama_tok, messages), add_special_tokens=False)["input_ids"]
    prompt = encode_prompt(llama_tok, messages[:1])
    assert whole[: len(prompt)] != prompt  # the merge this design avoids
    ids, labels = encode_chat(llama_tok, messages)
    answer = llama_tok("\n Yo<|im_end|>", add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt)] == prompt
    assert labels == [-100] * len(prompt) + answer + [-100]


def test_end_of_turn_from_generation_config_is_trained(tiny_llama, tmp_path):
    """A Llama-3-style model ends turns with a token other than its EOS, listed in generation_config."""
    import json
    import shutil

    from lmforge.models import load_tokenizer

    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        shutil.copy(f"{tiny_llama}/{name}", tmp_path / name)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 0]}))
    tok = load_tokenizer(str(tmp_path))
    tok.chat_template = (
        "{% for m in messages %}{{ m['role'] }}:\n{{ m['content'] }}<|endoftext|>\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:\n{% endif %}"
    )
    ids, labels = encode_chat(
        tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    )
    assert (
        labels
        == expected(
            tok, [("user:\nHi<|endoftext|>\nassistant:\n", False), ("Yo<|endoftext|>", True), ("\n", False)]
        )[1]
    )


TEXT = st.text(alphabet="abcdefghij XYZ.,?!\n0123456789", min_size=0, max_size=30)


@given(turns=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=3), data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_trained_tokens_are_exactly_the_answers_and_eos(llama_tok, gpt2_tok, turns, data):
    tok = data.draw(st.sampled_from([llama_tok, gpt2_tok]))
    messages = [
        m for u, a in turns for m in ({"role": "user", "content": u}, {"role": "assistant", "content": a})
    ]
    ids, labels = encode_chat(tok, messages)
    spans, current = [], []
    for t, lab in zip(ids, labels, strict=True):
        if lab != -100:
            current.append(t)
        elif current:
            spans.append(current)
            current = []
    spans += [current] if current else []
    assert [s[-1] for s in spans] == [tok.eos_token_id] * len(turns)  # every turn ends with a trained EOS
    assert [tok.decode(s) for s in spans] == [a + tok.eos_token for _, a in turns]
    prompt = encode_prompt(tok, messages[:1])  # the first answer's prompt is exactly inference's
    assert ids[: len(prompt)] == prompt and all(x == -100 for x in labels[: len(prompt)])


def test_template_error_is_one_line(llama_tok):
    from lmforge.errors import UserError

    saved = llama_tok.chat_template
    llama_tok.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}"
        "{% endfor %}"
    )
    try:
        with pytest.raises(UserError, match=r"refused a conversation \(system/user/assistant\): System role"):
            get_task(TaskConfig(type="sft", system="Be brief.")).encode(RECORDS["sft"], llama_tok, 512)
    finally:
        llama_tok.chat_template = saved
