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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lmforge.errors import UserError
from lmforge.formatting.tool_template import renders_reasoning, template_kwargs, template_messages

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


def render(
    tokenizer: Any,
    messages: Messages,
    add_generation_prompt: bool = False,
    tools: list[dict] | None = None,
    thinking: str = "keep",
) -> str:
    """The text the model sees for a conversation (exactly `tokenizer.apply_chat_template`'s text).

    `tools` (OpenAI's function list) and `thinking` (keep | last | drop: `lmforge.formatting.tool_template`)
    reach the template as `apply_chat_template(..., tools=...)` and its own thinking switch.
    >>> render(tok, [{"role": "user", "content": "Hi"}], add_generation_prompt=True)  # doctest: +SKIP
    '<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    return renderer(tokenizer, thinking)(messages, add_generation_prompt, tools)


def renderer(tokenizer: Any, thinking: str = "keep") -> Callable[..., str]:
    """`render` for one tokenizer, with the per-tokenizer work done once: call it for many conversations.

    It renders with transformers' own compiled template (the same sandboxed Jinja environment, globals and
    filters as `apply_chat_template`, compiled once per template string) and the same variables (the
    special tokens), without apply_chat_template's per-call work (looking the template up, normalising and
    deep-copying the messages), which cost more than the rendering itself, several times per record.
    Conversations that are not plain {str: str} messages (tool calls), conversations with tools, and
    tokenizers with several named templates go through `apply_chat_template` itself.

    >>> draw = renderer(tok)  # doctest: +SKIP
    >>> draw([{"role": "user", "content": "Hi"}], True) == render(tok, [{"role": "user", "content": "Hi"}], True)  # doctest: +SKIP
    True
    """
    from jinja2 import TemplateError

    ensure_chat_template(tokenizer)
    template = tokenizer.chat_template
    compiled = _compile(template) if isinstance(template, str) else None
    variables = dict(tokenizer.special_tokens_map) if compiled is not None else {}
    if not all(type(v) is str for v in variables.values()):
        compiled = None  # e.g. a list of extra special tokens: let transformers convert it
    text = template if isinstance(template, str) else ""
    switches = template_kwargs(text, thinking)

    def draw(messages: Messages, add_generation_prompt: bool = False, tools: list[dict] | None = None) -> str:
        messages = template_messages(messages, text, thinking)
        try:
            if compiled is not None and not tools and _plain(messages):
                return compiled.render(
                    messages=[dict(m) for m in messages],
                    tools=None,
                    documents=None,
                    add_generation_prompt=add_generation_prompt,
                    **variables,
                    **switches,
                )
            return tokenizer.apply_chat_template(
                messages,
                tools=tools or None,
                tokenize=False,
                add_generation_prompt=add_generation_prompt,
                **switches,
            )
        except TemplateError as e:  # e.g. Gemma's "System role not supported", or a broken task.chat_template
            roles = "/".join(m["role"] for m in messages)
            raise UserError(f"the chat template refused a conversation ({roles}): {e}") from None

    return draw


def _compile(template: str) -> Any:
    """transformers' compiled chat template (its own lru-cached helper), or None where it has none."""
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template
    except ImportError:  # a transformers without the helper: apply_chat_template renders everything
        return None
    return _compile_jinja_template(template)


# message keys transformers rewrites before rendering (reasoning aliases); such messages take its path
_REWRITTEN_KEYS = frozenset({"reasoning_content", "thinking", "reasoning"})


def _plain(messages: Messages) -> bool:
    """Messages transformers would pass to the template unchanged: dicts of str to str, none empty."""
    return bool(messages) and all(
        type(m) is dict
        and not _REWRITTEN_KEYS.intersection(m)
        and all(type(k) is str and type(v) is str for k, v in m.items())
        for m in messages
    )


def encode_prompt(
    tokenizer: Any, messages: Messages, tools: list[dict] | None = None, thinking: str = "keep"
) -> list[int]:
    """Token ids of a conversation up to and including the assistant header (what generation continues)."""
    text = render(tokenizer, messages, add_generation_prompt=True, tools=tools, thinking=thinking)
    return token_ids(tokenizer, [text])[0]


def token_ids(tokenizer: Any, texts: list[str], add_special_tokens: bool = False) -> list[list[int]]:
    """`tokenizer(texts, add_special_tokens=...)["input_ids"]`, in one batched call.

    For transformers' plain fast tokenizer in its default state (no truncation, padding or split special
    tokens, which its __call__ would set first) this makes the Rust call __call__ makes, as
    `encode_batch_fast`: the same ids without the character offsets __call__ also computes and converts
    (a quarter of the tokenising time). Any other tokenizer goes through __call__.

    >>> token_ids(tok, ["Hi", "Yo<|im_end|>"])  # doctest: +SKIP
    [[28120], [56, 78, 2]]
    """
    if not texts:
        return []
    if _plain_fast(tokenizer):
        encodings = tokenizer.backend_tokenizer.encode_batch_fast(
            texts, add_special_tokens=add_special_tokens
        )
        return [e.ids for e in encodings]
    return tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]


def _plain_fast(tokenizer: Any) -> bool:
    try:
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # transformers 4.x: its fast tokenizer class has another name; use __call__
        return False
    if not isinstance(tokenizer, TokenizersBackend):
        return False
    backend = tokenizer.backend_tokenizer
    return (
        type(tokenizer)._encode_plus is TokenizersBackend._encode_plus  # no model-specific encoding
        and hasattr(backend, "encode_batch_fast")
        and backend.truncation is None
        and backend.padding is None
        and bool(getattr(backend, "encode_special_tokens", False))
        == bool(getattr(tokenizer, "split_special_tokens", False))
    )


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


def encode_chat(
    tokenizer: Any,
    messages: Messages,
    train_on_prompt: bool = False,
    tools: list[dict] | None = None,
    thinking: str = "keep",
) -> tuple[list[int], list[int]]:
    """Token ids and labels of a conversation; loss on the assistant turns only (unless train_on_prompt).

    Works with any chat template, with or without `{% generation %}` markers: per assistant turn the
    template renders the conversation before it with the generation prompt (exactly the text `encode_prompt`
    sends at inference) and the conversation through it. Each render must be a prefix of the next and of
    the whole conversation's render (the prefix property; a clear error when a template breaks it). The
    text is then tokenised piece by piece at those boundaries, so the tokens before each answer are the
    inference prompt's tokens and the answer is the tokens the model must generate after them (no BPE
    merge across the boundary, e.g. of ChatML's "assistant\n" with an answer starting with "\n").
    Each answer is trained up to and including its last EOS; what the template adds after the EOS
    (ChatML's "\n") is not trained: generation stops at EOS and never produces it.

    >>> encode_chat(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])  # doctest: +SKIP
    ([1, 9690, ..., 1, 520, 9531, 198, 56, 78, 2, 198], [-100, ..., -100, 56, 78, 2, -100])
    """
    pieces = chat_texts(tokenizer, messages, train_on_prompt, tools, thinking)
    ids = token_ids(tokenizer, pieces)
    return chat_labels(tokenizer, messages, ids, train_on_prompt)


def chat_texts(
    tokenizer: Any,
    messages: Messages,
    train_on_prompt: bool = False,
    tools: list[dict] | None = None,
    thinking: str = "keep",
) -> list[str]:
    """The conversation's text cut into pieces: prompt, answer, prompt, answer, ..., tail.

    Split out so that many records can be tokenised in one batched call of the fast tokenizer.
    `train_on_prompt` does not change the pieces, so it changes only the labels, never the tokens.
    Tool results, tool definitions, system and user turns are prompt; an assistant turn's text, its tool
    calls and its kept reasoning are its answer. A template that renders reasoning itself and drops it from
    earlier turns (Qwen3) renders an earlier assistant turn one way as history and another as the last
    turn: such a turn is context (untrained), as its own template shows it, and the last turn is trained.
    >>> chat_texts(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])  # doctest: +SKIP
    ['<|im_start|>system\n...<|im_start|>assistant\n', 'Yo<|im_end|>\n', '']
    """
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    messages = template_messages(messages, template, thinking)  # reasoning chosen once, for every slice
    draw = renderer(tokenizer, "keep" if thinking != "drop" else "drop")
    full = draw(messages, False, tools)
    lenient = renders_reasoning(template)
    bounds = [0]
    turns = _assistant_turns(messages)
    for i in turns:
        prompt = draw(messages[:i], True, tools)
        # the conversation through its last message is the whole conversation: rendered already
        through = full if i + 1 == len(messages) else draw(messages[: i + 1], False, tools)
        bad = [
            (text, what)
            for text, what in ((prompt, "the generation prompt"), (through, "the conversation through it"))
            if not full.startswith(text) or len(text) < bounds[-1]
        ]
        if bad and lenient and i != turns[-1]:
            continue  # rendered otherwise as history than as the last turn: context, as the template has it
        if bad:
            raise PrefixError(_prefix_message(full, bad[0][0], i, bad[0][1]))
        bounds += [len(prompt), len(through)]
    bounds.append(len(full))
    return [full[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def chat_labels(
    tokenizer: Any, messages: Messages, ids: list[list[int]], train_on_prompt: bool = False
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) from the token ids of the `chat_texts(...)` pieces (odd pieces are answers)."""
    eos = eos_token_ids(tokenizer)
    input_ids: list[int] = []
    labels: list[int] = []
    for k, piece in enumerate(ids):
        piece = list(piece)
        input_ids += piece
        if train_on_prompt:
            labels += piece
        elif k % 2 == 0:
            labels += [-100] * len(piece)
        else:
            ends = [j for j, t in enumerate(piece) if t in eos]
            stop = ends[-1] + 1 if ends else len(piece)  # no EOS in the turn: `lmforge inspect` flags it
            labels += piece[:stop] + [-100] * (len(piece) - stop)
    return input_ids, labels


def _assistant_turns(messages: Messages) -> list[int]:
    """Indices of the trained assistant turns; one that opens the conversation answers nothing: context."""
    return [i for i, m in enumerate(messages) if m["role"] == "assistant" and i > 0]


class PrefixError(UserError):
    """The chat template renders a prefix of the conversation that is not a prefix of the whole render."""


def _prefix_message(full: str, part: str, turn: int, what: str) -> str:
    at = next(
        (j for j, (x, y) in enumerate(zip(full, part, strict=False)) if x != y), min(len(full), len(part))
    )
    return (
        f"chat template breaks the prefix property at message {turn}: {what} renders "
        f"{part[max(0, at - 15) : at + 15]!r} where the whole conversation has {full[max(0, at - 15) : at + 15]!r}; "
        "training and inference would see different text"
    )
