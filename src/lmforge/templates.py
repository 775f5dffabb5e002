"""Chat templates: one function renders prompts for training and for inference, so their tokens match.

Models without a chat template (GPT-2 style base models) get FALLBACK_TEMPLATE, documented in the README:

    ### System:            (only when a system message is given)
    {system}

    ### User:
    {user}

    ### Assistant:
    {assistant}<eos>
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from lmforge.errors import UserError

FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '### System:\\n' + message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{% else %}{{ '### Assistant:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant:\\n' }}{% endif %}"
)

Messages = list[dict[str, str]]


def ensure_chat_template(tokenizer: Any, template: str | None = None) -> Any:
    """Give a tokenizer without a chat template the documented fallback; returns the tokenizer.

    `template` (`task.chat_template` in the YAML) replaces the tokenizer's own; the tokenizer saved with
    the trained model then carries it, so inference renders the same way.
    """
    if template:
        tokenizer.chat_template = template
    elif not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_TEMPLATE
    return tokenizer


def render(tokenizer: Any, messages: Messages, add_generation_prompt: bool = False) -> str:
    """The text the model sees for a conversation.

    >>> render(tok, [{"role": "user", "content": "Hi"}], add_generation_prompt=True)  # doctest: +SKIP
    '<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    ensure_chat_template(tokenizer)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_prompt(tokenizer: Any, messages: Messages) -> list[int]:
    """Token ids of a conversation up to and including the assistant header (what generation continues)."""
    text = render(tokenizer, messages, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def to_messages(prompt: str | Messages, system: str | None = None) -> Messages:
    """A user prompt (or a ready conversation) as a message list, with an optional system message."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system and (not messages or messages[0]["role"] != "system"):
        messages = [{"role": "system", "content": system}, *messages]
    return messages


def eos_token_ids(tokenizer: Any) -> set[int]:
    """Ids that end an assistant turn: the tokenizer's EOS (for the built-in model `<|im_end|>`), plus the
    end-of-turn ids of the model folder's generation_config.json (Llama 3 ends turns with `<|eot_id|>`
    while its EOS is `<|end_of_text|>`); generation stops at any of them, so any of them is trained.
    """
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    return ids | set(_generation_eos(str(getattr(tokenizer, "name_or_path", "") or "")))


@functools.lru_cache(maxsize=16)
def _generation_eos(folder: str) -> tuple[int, ...]:
    gen = Path(folder) / "generation_config.json"
    if not folder or not gen.is_file():
        return ()
    extra = json.loads(gen.read_text(encoding="utf-8")).get("eos_token_id")
    return tuple(x for x in (extra if isinstance(extra, list) else [extra]) if isinstance(x, int))


def encode_chat(tokenizer: Any, messages: Messages, train_on_prompt: bool = False) -> tuple[list[int], list[int]]:
    """Token ids and labels of a conversation; loss on the assistant turns only (unless train_on_prompt).

    Works with any chat template, with or without `{% generation %}` markers: the template is rendered once
    for the whole conversation and once per assistant turn for the prefix before it (with the generation
    prompt, i.e. exactly what `encode_prompt` feeds the model at inference) and the prefix through it.
    The prompt's tokens must be a prefix of the conversation's tokens (else training and inference would
    see different tokens, and a clear error says so). Each assistant turn is trained up to and including
    its last EOS; what the template adds after the EOS (ChatML's "\\n") is not trained, because inference
    stops at EOS and never generates it.

    >>> encode_chat(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])  # doctest: +SKIP
    ([1, 9690, ..., 1, 520, 9531, 198, 56, 78, 2, 198], [-100, ..., -100, 56, 78, 2, -100])
    """
    texts = chat_texts(tokenizer, messages, train_on_prompt)
    return chat_labels(tokenizer, messages, tokenizer(texts, add_special_tokens=False)["input_ids"], train_on_prompt)


def chat_texts(tokenizer: Any, messages: Messages, train_on_prompt: bool = False) -> list[str]:
    """The renders `encode_chat` tokenizes: the conversation, then per assistant turn (prompt, through it).

    Split out so that many records can be tokenized in one batched call of the fast tokenizer.
    """
    texts = [render(tokenizer, messages)]
    if not train_on_prompt:
        for i in _assistant_turns(messages):
            texts += [render(tokenizer, messages[:i], add_generation_prompt=True), render(tokenizer, messages[: i + 1])]
    return texts


def chat_labels(
    tokenizer: Any, messages: Messages, ids: list[list[int]], train_on_prompt: bool = False
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) from the token ids of `chat_texts(...)`, in the same order."""
    full = list(ids[0])
    if train_on_prompt:
        return full, list(full)
    labels = [-100] * len(full)
    eos = eos_token_ids(tokenizer)
    for k, i in enumerate(_assistant_turns(messages)):
        prompt, through = ids[1 + 2 * k], ids[2 + 2 * k]
        if full[: len(prompt)] != list(prompt):
            raise PrefixError(_prefix_message(tokenizer, full, list(prompt), i))
        end = _common_prefix(full, through)
        turn_eos = [j for j in range(len(prompt), end) if full[j] in eos]
        stop = turn_eos[-1] + 1 if turn_eos else end  # no EOS in the turn: `lmforge inspect` flags it
        labels[len(prompt) : stop] = full[len(prompt) : stop]
    return full, labels


def _assistant_turns(messages: Messages) -> list[int]:
    """Indices of the trained assistant turns; one that opens the conversation answers nothing: context."""
    return [i for i, m in enumerate(messages) if m["role"] == "assistant" and i > 0]


class PrefixError(UserError):
    """The chat template renders a prompt whose tokens are not a prefix of the full conversation's."""


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _prefix_message(tokenizer: Any, full: list[int], prompt: list[int], turn: int) -> str:
    at = _common_prefix(full, prompt)
    return (
        f"chat template breaks the prefix property at message {turn}: the prompt rendered for generation "
        f"({tokenizer.decode(prompt[at:at + 8])!r}...) differs from the conversation's tokens at position {at} "
        f"({tokenizer.decode(full[at:at + 8])!r}...); training and inference would see different tokens"
    )
