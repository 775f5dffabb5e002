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

from typing import Any

FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '### System:\\n' + message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{% else %}{{ '### Assistant:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant:\\n' }}{% endif %}"
)

Messages = list[dict[str, str]]


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give a tokenizer without a chat template the documented fallback; returns the tokenizer."""
    if not getattr(tokenizer, "chat_template", None):
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
