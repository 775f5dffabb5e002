"""A model's reply text split into OpenAI's parts: content, tool calls, reasoning.

The reverse of tool_template.py's rendering, shared by `lmforge serve` and tool-call evaluation. Forms:

- Hermes / Qwen2.5 / Qwen3 (and lmforge's default template): one or more
  `<tool_call>\\n{"name": "f", "arguments": {...}}\\n</tool_call>` blocks; text outside them is content.
  A block left open at the end (the reply ran out of tokens) still counts when its JSON is whole.
- Llama 3.1 (a template that asks for `{"name": ..., "parameters": ...}`): the reply itself is the JSON
  call, optionally after `<|python_tag|>`, several separated by `;`.
- Mistral: `[TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]` (its v11+ form `[TOOL_CALLS]f[ARGS]{...}`
  too). The marker is a special token: the text must be decoded with special tokens kept.
- Reasoning: `<think>...</think>` (DeepSeek-R1, Qwen3) before any call; a reply whose prompt opened
  `<think>` holds only the closing tag, and what comes before it is the reasoning. An unclosed `<think>`
  is all reasoning.

As vLLM's tool parsers do, the parsing is by hand: the forms are plain text conventions of the model
families, and no kept library parses all of them. A block that does not parse (not JSON, no name) is not
raised: it stays in the content as the model wrote it, and `errors` says why.

>>> r = parse_assistant('Let me check.\\n<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call>')
>>> r.content, r.tool_calls[0]["function"]
('Let me check.', {'name': 'get_weather', 'arguments': '{"city": "Paris"}'})
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
MISTRAL_CALLS, MISTRAL_ARGS = "[TOOL_CALLS]", "[ARGS]"
PYTHON_TAG = "<|python_tag|>"
_HERMES = re.compile(r"<tool_call>(.*?)</tool_call>|<tool_call>(.*)\Z", re.DOTALL)


@dataclass
class ParsedReply:
    content: str | None  # text outside calls and reasoning, None when empty
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # OpenAI's form, arguments as JSON text
    reasoning: str | None = None
    errors: list[str] = field(default_factory=list)  # call blocks that did not parse, and why


def parse_assistant(text: str, template: str | None = None, calls: bool = True) -> ParsedReply:
    """Content, tool calls and reasoning of one assistant reply; `template` is the chat template, which
    says whether the bare JSON form of Llama 3.1 is a call; `calls=False` splits off the reasoning only
    (a request whose tools are off: a `<tool_call>` the model writes anyway is content).

    >>> parse_assistant("<think>\\n2+2\\n</think>\\n\\n4")
    ParsedReply(content='4', tool_calls=[], reasoning='2+2', errors=[])
    """
    # reasoning comes before the calls: a <think> after the first <tool_call> is not the reply's reasoning
    head = text
    if calls:
        bare = template is not None and llama_style(template) and text.lstrip().startswith(("{", PYTHON_TAG))
        head = "" if bare else text.split(CALL_OPEN, 1)[0].split(MISTRAL_CALLS, 1)[0]
    reasoning = None
    if THINK_OPEN in head or THINK_CLOSE in head:
        reasoning, text = split_reasoning(text)
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    if not calls:
        pass
    elif CALL_OPEN in text:
        text = _hermes(text, found, errors)
    elif MISTRAL_CALLS in text:
        text = _mistral(text, found, errors)
    elif template is not None and llama_style(template):
        text = _llama(text, found)
    content = text.strip()
    return ParsedReply(content or None, found, reasoning, errors)


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, the rest): `<think>` ... `</think>`, a lone `</think>` (the prompt opened the block),
    or an unclosed `<think>` (all reasoning).

    >>> split_reasoning("plan</think>\\n\\nanswer"), split_reasoning("<think>\\nstill thinking")
    (('plan', 'answer'), ('still thinking', ''))
    """
    start = text.find(THINK_OPEN)
    end = text.find(THINK_CLOSE)
    if end >= 0 and (start < 0 or start > end):  # the opening tag was in the prompt
        return text[:end].strip() or None, text[end + len(THINK_CLOSE) :].lstrip()
    if start < 0:
        return None, text
    before = text[:start]
    end = text.find(THINK_CLOSE, start)
    if end < 0:
        return text[start + len(THINK_OPEN) :].strip() or None, before
    inner = text[start + len(THINK_OPEN) : end].strip()
    return inner or None, before + text[end + len(THINK_CLOSE) :].lstrip()


def llama_style(template: str) -> bool:
    """Whether a chat template asks for Llama 3.1's bare JSON calls (`"parameters"`, `<|python_tag|>`)."""
    return PYTHON_TAG in template or ('"parameters"' in template and CALL_OPEN not in template)


def openai_call(name: str, arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    """A call in OpenAI's form; `arguments` (an object, or JSON text) becomes JSON text.

    >>> openai_call("f", {"x": 1}, "call_1")
    {'id': 'call_1', 'type': 'function', 'function': {'name': 'f', 'arguments': '{"x": 1}'}}
    """
    if isinstance(arguments, str):
        try:
            json.loads(arguments)
            text = arguments  # already JSON text (some models write the arguments as a string)
        except json.JSONDecodeError:
            text = json.dumps(arguments, ensure_ascii=False)
    else:
        text = json.dumps({} if arguments is None else arguments, ensure_ascii=False)
    return {
        "id": call_id or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": name, "arguments": text},
    }


def _call_from(obj: Any, where: str, errors: list[str]) -> dict[str, Any] | None:
    """The OpenAI call of one parsed JSON object, or None with the reason in `errors`."""
    if not isinstance(obj, dict):
        errors.append(f"{where}: a JSON {type(obj).__name__}, not an object with a name and arguments")
        return None
    if isinstance(obj.get("function"), dict):  # {"type": "function", "function": {...}} written whole
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}: no function name")
        return None
    args = obj.get("arguments", obj.get("parameters"))
    if args is not None and not isinstance(args, (dict, str)):
        errors.append(f"{where}: arguments of {name!r} are a JSON {type(args).__name__}, not an object")
        return None
    return openai_call(name.strip(), args)


def _hermes(text: str, calls: list, errors: list) -> str:
    """Calls out of `<tool_call>` blocks; returns the content (text outside parsed blocks)."""
    kept, pos = [], 0
    for k, m in enumerate(_HERMES.finditer(text), 1):
        body = m.group(1) if m.group(1) is not None else m.group(2)
        where = f"tool call {k}" + ("" if m.group(1) is not None else " (no </tool_call>)")
        call = None
        try:
            call = _call_from(json.loads(body), where, errors)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: not JSON ({e.msg} at character {e.pos}): {body.strip()[:80]!r}")
        kept.append(text[pos : m.start()])
        if call is None:
            kept.append(m.group(0))  # the model's text, as it wrote it
        else:
            calls.append(call)
        pos = m.end()
    kept.append(text[pos:])
    return "".join(kept)


def _mistral(text: str, calls: list, errors: list) -> str:
    """`[TOOL_CALLS][{...}, ...]` or `[TOOL_CALLS]name[ARGS]{...}`; returns the text before the marker."""
    start = text.find(MISTRAL_CALLS)
    before, rest = text[:start], text[start + len(MISTRAL_CALLS) :]
    decoder = json.JSONDecoder()
    if MISTRAL_ARGS in rest and not rest.lstrip().startswith("["):
        for k, part in enumerate(rest.split(MISTRAL_CALLS), 1):
            name, _, args = part.partition(MISTRAL_ARGS)
            try:
                obj, _ = decoder.raw_decode(args.strip())
            except json.JSONDecodeError as e:
                errors.append(f"tool call {k}: not JSON ({e.msg}): {args.strip()[:80]!r}")
                continue
            call = _call_from({"name": name, "arguments": obj}, f"tool call {k}", errors)
            calls.extend([call] if call else [])
        return before
    try:
        obj, _ = decoder.raw_decode(rest.strip())
    except json.JSONDecodeError as e:
        errors.append(f"tool calls: not JSON ({e.msg} at character {e.pos}): {rest.strip()[:80]!r}")
        return text
    for k, item in enumerate(obj if isinstance(obj, list) else [obj], 1):
        call = _call_from(item, f"tool call {k}", errors)
        calls.extend([call] if call else [])
    return before


def _llama(text: str, calls: list) -> str:
    """Llama 3.1's bare JSON calls: the whole reply (after `<|python_tag|>`) is one or more objects with
    a name and parameters, separated by `;`. A reply that is not (plain prose, other JSON) is content."""
    body = text.strip()
    if body.startswith(PYTHON_TAG):
        body = body[len(PYTHON_TAG) :].lstrip()
    if not body.startswith("{"):
        return text
    decoder, found, pos = json.JSONDecoder(), [], 0
    while pos < len(body):
        try:
            obj, end = decoder.raw_decode(body, pos)
        except json.JSONDecodeError:
            return text
        if not (isinstance(obj, dict) and isinstance(obj.get("name"), str)):
            return text
        if not ("parameters" in obj or "arguments" in obj):
            return text
        found.append(obj)
        pos = end
        while pos < len(body) and body[pos] in "; \n\t":
            pos += 1
    scratch: list[str] = []
    parsed = [_call_from(obj, "tool call", scratch) for obj in found]
    if scratch:  # e.g. parameters that are a list: not a call, the model's text
        return text
    calls.extend(parsed)
    return ""
