"""The OpenAI request bodies `lmforge serve` accepts (pydantic), and the response bodies it sends (dicts).

Strict types, as OpenAI's API checks them: `"max_tokens": "5"` is a 400, not a 5. Fields OpenAI defines
that change what is generated and that lmforge does not implement (logprobs, tools, penalties, ...) are
refused with a 400 naming the field, rather than silently ignored (`tools`, `tool_choice` and tool
turns in the history are implemented: tool_schemas.py, tool_replies.py); other unknown fields are ignored, as
clients send extras (`user`, `metadata`, ...). Sampling values the arithmetic cannot take are made safe
here, where every row passes: a temperature under 1e-5 (scores / 1e-40 overflow) or `top_p` 0 (0 / 0) is
greedy; any integer is a seed (the batcher folds it into the 63 bits a torch generator takes).

>>> ChatRequest.model_validate({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}).n
1
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lmforge.inference.tool_schemas import Tool, ToolCall, ToolChoice

# field -> its value that means "off"; any other value is refused (lmforge does not implement it)
MIN_TEMPERATURE = 1e-5  # sampling.MIN_TEMPERATURE; kept here too, as schemas does not import torch

UNSUPPORTED = {
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "echo": (None, False),
    "best_of": (None, 1),
    "suffix": (None, ""),
    "functions": (None, []),  # OpenAI's deprecated form of `tools`
    "function_call": (None, "none"),
    "logit_bias": (None, {}),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
}


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    include_usage: bool = False


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)

    model: str | None = None  # None: the one model this server serves
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, ge=0.0, le=1.0)
    n: int = Field(1, ge=1, le=128)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None  # OpenAI takes up to 4
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _greedy_when_degenerate(self) -> _Request:
        """temperature 1e-40 or top_p 0 sample as greedy would, without dividing by ~0 or by 0.

        >>> ChatRequest.model_validate({"messages": [{"role": "user"}], "top_p": 0.0}).temperature
        0.0
        """
        if self.temperature < MIN_TEMPERATURE or self.top_p == 0:
            self.temperature = 0.0
        return self

    def refused_field(self) -> str | None:
        """The first field set to something lmforge does not implement (the server answers 400 naming it).

        >>> ChatRequest.model_validate({"messages": [], "logprobs": True}).refused_field()  # doctest: +SKIP
        'logprobs'
        """
        extra = self.model_extra or {}
        return next((k for k, v in extra.items() if k in UNSUPPORTED and v not in UNSUPPORTED[k]), None)

    def stop_list(self) -> list[str]:
        """`stop` as a list without empty strings: "x" -> ["x"], None -> []."""
        stops = [self.stop] if isinstance(self.stop, str) else self.stop or []
        return [s for s in stops if s]

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCall] | None = None  # an assistant's calls (its content may then be null)
    tool_call_id: str | None = None  # a tool result: the call it answers
    reasoning_content: str | None = None  # an assistant's reasoning, as a thinking model returned it

    def plain(self) -> dict[str, str]:
        """{"role", "content": str}, what the chat template renders; `developer` is OpenAI's new `system`."""
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        return {"role": "system" if self.role == "developer" else self.role, "content": text}

    def for_template(self) -> dict[str, Any]:
        """`plain()` plus the tool fields the chat template reads (calls with JSON-text arguments).

        >>> Message(role="assistant", tool_calls=[...]).for_template()  # doctest: +SKIP
        {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'call_1', 'type': 'function', ...}]}
        """
        out: dict[str, Any] = self.plain()
        if self.tool_calls:
            out["tool_calls"] = [c.model_dump() for c in self.tool_calls]
            out["content"] = out["content"] or None
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.reasoning_content:
            out["reasoning_content"] = self.reasoning_content
        return out


class ChatRequest(_Request):
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)  # OpenAI's newer name; wins over max_tokens
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None  # None: "auto" with tools, else "none"
    parallel_tool_calls: bool | None = None  # False: the first call of a reply only

    def token_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Request):
    # a string, a list of strings, token ids, or a list of token-id lists (OpenAI takes all four)
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(16, ge=1)  # OpenAI's default for completions

    def token_budget(self) -> int | None:
        return self.max_tokens


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's error shape.

    >>> error_body("bad", "invalid_request_error", "n")
    {'error': {'message': 'bad', 'type': 'invalid_request_error', 'param': 'n', 'code': None}}
    """
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_response(rid: str, model: str, choices: list[tuple[dict, str]], use: dict) -> dict[str, Any]:
    """A whole chat.completion; `choices` is [(message, finish_reason), ...] in index order, each message
    {"role": "assistant", "content", ...} (tool_replies.reply_message)."""
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "message": message,
                "logprobs": None,
                "finish_reason": reason,
            }
            for i, (message, reason) in enumerate(choices)
        ],
        "usage": use,
    }


def completion_response(rid: str, model: str, choices: list[tuple[str, str]], use: dict) -> dict[str, Any]:
    """A whole text_completion."""
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "text": text, "logprobs": None, "finish_reason": reason}
            for i, (text, reason) in enumerate(choices)
        ],
        "usage": use,
    }


def chat_chunk(rid: str, model: str, index: int, delta: dict, reason: str | None) -> dict[str, Any]:
    """One chat.completion.chunk of a stream: `delta` is {"role": ...} first, then {"content": ...},
    {"reasoning_content": ...} or {"tool_calls": [...]} (tool_replies.ReplyStream)."""
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}],
    }


def completion_chunk(rid: str, model: str, index: int, text: str, reason: str | None) -> dict[str, Any]:
    """One streamed text_completion piece."""
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": index, "text": text, "logprobs": None, "finish_reason": reason}],
    }


def usage_chunk(rid: str, model: str, obj: str, use: dict) -> dict[str, Any]:
    """The last chunk when `stream_options.include_usage`: no choices, the usage."""
    return {
        "id": rid,
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": use,
    }
