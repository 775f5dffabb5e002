"""How `lmforge serve` turns tools in a chat request into a prompt, and the model's reply into OpenAI's
message: `content`, `tool_calls` and `reasoning_content`, whole or as a stream of deltas.

`tool_choice`: `auto` renders the tools into the prompt (through the model's chat template, or lmforge's
default tool branch: formatting/tool_template.py) and parses calls out of the reply; `none` renders
without the tools and parses none; `required` starts the reply with the template's call opening
(`<tool_call>\\n`), and a named function with the call's head (`<tool_call>\\n{"name": "f", "arguments":`),
so the model continues a call (a prefill: lmforge does not constrain the tokens after it, as vLLM's guided
decoding does; a model that writes broken JSON there returns its text as content).

>>> plan = ToolPlan(tools=[...], parse=True, prefill="", template="...")  # doctest: +SKIP
>>> reply_message('<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>', "stop", plan)  # doctest: +SKIP
({'role': 'assistant', 'content': None, 'tool_calls': [...]}, 'tool_calls')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmforge.formatting.tool_parse import (
    CALL_CLOSE,
    CALL_OPEN,
    MISTRAL_CALLS,
    PYTHON_TAG,
    THINK_CLOSE,
    THINK_OPEN,
    llama_style,
    parse_assistant,
)
from lmforge.inference.stop_text import held_back


@dataclass
class ToolPlan:
    tools: list[dict] | None  # OpenAI's tool list for the template; None: the prompt has no tools
    parse: bool  # parse tool calls out of the reply
    prefill: str  # text the reply starts with (a forced call's opening), generated after it
    template: str  # the chat template (its call form: Hermes/Qwen, Llama 3.1, Mistral)
    parallel: bool = True  # False: the first call only (parallel_tool_calls: false)
    thinking_open: bool = False  # the prompt ends inside `<think>`: the reply starts as reasoning


def call_prefix(template: str, name: str | None = None) -> str:
    """The opening of a tool call in the template's form; with `name`, up to its arguments.

    Each ends where the tokenizer splits anyway (before the arguments' ` {`), so the prompt plus these
    tokens are the tokens of the trained call.
    >>> call_prefix("... <tool_call> ..."), call_prefix("... <tool_call> ...", "get_weather")
    ('<tool_call>\\n', '<tool_call>\\n{"name": "get_weather", "arguments":')
    """
    if MISTRAL_CALLS in template:
        return MISTRAL_CALLS
    if llama_style(template):
        return '{"name": "' + (name + '", "parameters":' if name else "")
    return CALL_OPEN + "\n" + ('{"name": "' + name + '", "arguments":' if name else "")


def plan_for(tools: list[dict], choice: Any, template: str, parallel: bool | None) -> ToolPlan:
    """The plan of a request: `choice` is "none" | "auto" | "required" | {"function": {"name": ...}}."""
    choice = choice if choice is not None else ("auto" if tools else "none")
    if choice == "none" or not tools:
        return ToolPlan(None, False, "", template)
    name = choice["function"]["name"] if isinstance(choice, dict) else None
    prefill = call_prefix(template, name) if choice != "auto" else ""
    return ToolPlan(tools, True, prefill, template, parallel is not False)


def reply_message(text: str, reason: str, plan: ToolPlan) -> tuple[dict[str, Any], str]:
    """The chat.completion message of a whole reply and its finish_reason ("tool_calls" for a call that
    ended with the model's EOS). A reply without tools or thinking tags is content as generated."""
    text = plan.prefill + text
    if plan.thinking_open and THINK_CLOSE not in text:
        text = THINK_OPEN + text  # ran out of tokens while thinking: all reasoning
    if not plan.parse and THINK_OPEN not in text and THINK_CLOSE not in text:
        return {"role": "assistant", "content": text}, reason
    parsed = parse_assistant(text, plan.template, calls=plan.parse)
    calls = parsed.tool_calls if plan.parallel else parsed.tool_calls[:1]
    message: dict[str, Any] = {"role": "assistant", "content": parsed.content}
    if parsed.content is None and not calls and parsed.reasoning is None:
        message["content"] = ""
    if calls:
        message["tool_calls"] = calls
    if parsed.reasoning is not None:
        message["reasoning_content"] = parsed.reasoning
    return message, "tool_calls" if calls and reason == "stop" else reason


class ReplyStream:
    """One streamed reply as OpenAI's deltas: `{"content"}`, `{"reasoning_content"}`, and a call whole
    once its block closes, `{"tool_calls": [{"index", "id", "type", "function": {"name", "arguments"}}]}`.

    Text that may be the start of a tag (`<tool_` of `<tool_call>`) is held back until the next piece
    decides; so is whitespace around content, which the whole reply (`reply_message`) strips. The deltas
    add up to `reply_message`'s message for the same text.
    >>> s = ReplyStream(plan)  # doctest: +SKIP
    >>> s.feed("Sure.\\n<tool_"), s.feed('call>{"name": "f"}</tool_call>')  # doctest: +SKIP
    ([{'content': 'Sure.'}], [{'tool_calls': [{'index': 0, 'id': 'call_...', ...}]}])
    """

    def __init__(self, plan: ToolPlan):
        self.plan = plan
        self.state = "think" if plan.thinking_open else "text"  # text | think | call | tail
        self.buf, self.tail_head = plan.prefill, ""
        self.pending = ""  # trailing whitespace of the content, shown only if more content follows
        self.shown = False  # content shown so far
        self.lstrip = plan.parse  # drop the content's leading whitespace (a parsed reply is stripped)
        self.marked = False  # a tag was seen: the reply is parsed, its content stripped
        self.thought = plan.thinking_open  # the one reasoning block has begun
        self.reasoning_shown, self.reasoning_pending = False, ""
        self.calls = 0
        self.called = plan.prefill.startswith((CALL_OPEN, MISTRAL_CALLS))  # a call block has opened

    def feed(self, piece: str) -> list[dict[str, Any]]:
        self.buf += piece
        return self._drain(final=False)

    def finish(self, reason: str) -> tuple[list[dict[str, Any]], str]:
        """The last deltas and the finish_reason."""
        out = self._drain(final=True)
        if self.pending and not (self.plan.parse or self.marked):
            out.append({"content": self.pending})  # a plain reply's trailing whitespace, as generated
        return out, "tool_calls" if self.calls and reason == "stop" else reason

    def _markers(self) -> list[str]:
        # one reasoning block, before any call (as parse_assistant reads a whole reply)
        marks = [] if self.thought or self.called else [THINK_OPEN]
        return marks + ([CALL_OPEN, MISTRAL_CALLS] if self.plan.parse else [])

    def _drain(self, final: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            if self.state == "text":
                if self._llama_start(final):
                    continue
                marks = self._markers()
                hits = [(i, m) for m in marks if (i := self.buf.find(m)) >= 0]
                if not hits:
                    keep = 0 if final else held_back(self.buf, marks)
                    self._content(self.buf[: len(self.buf) - keep], out)
                    self.buf = self.buf[len(self.buf) - keep :]
                    return out
                i, mark = min(hits)
                self._content(self.buf[:i], out)
                self.buf, self.marked = self.buf[i + len(mark) :], True
                self.state = {THINK_OPEN: "think", CALL_OPEN: "call", MISTRAL_CALLS: "tail"}[mark]
                self.thought |= mark == THINK_OPEN
                self.called |= mark != THINK_OPEN
                self.tail_head = mark
            elif self.state == "think":
                i = self.buf.find(THINK_CLOSE)
                if i < 0:
                    keep = 0 if final else held_back(self.buf, [THINK_CLOSE])
                    self._reasoning(self.buf[: len(self.buf) - keep], out)
                    self.buf = self.buf[len(self.buf) - keep :]
                    return out
                self._reasoning(self.buf[:i], out)
                self.buf, self.state, self.lstrip, self.marked = (
                    self.buf[i + len(THINK_CLOSE) :],
                    "text",
                    True,
                    True,
                )
            elif self.state == "call":
                i = self.buf.find(CALL_CLOSE)
                if i < 0 and not final:
                    return out
                end = len(self.buf) if i < 0 else i + len(CALL_CLOSE)
                self._block(CALL_OPEN + self.buf[:end], out)
                self.buf, self.state = self.buf[end:], "text"
            else:  # tail: Mistral's or Llama's calls run to the end of the reply
                if final:
                    self._block(self.tail_head + self.buf, out)
                    self.buf = ""
                return out

    def _llama_start(self, final: bool) -> bool:
        """Llama 3.1's bare JSON call opens the reply: hold the reply until it ends, then parse it."""
        if not (self.plan.parse and not self.shown and not self.marked and llama_style(self.plan.template)):
            return False
        head = self.buf.lstrip()
        if head.startswith(("{", PYTHON_TAG)):
            self.state, self.tail_head, self.marked, self.called = "tail", "", True, True
            return True
        return False

    def _content(self, text: str, out: list) -> None:
        if self.lstrip and not self.shown:
            text = text.lstrip()
        if not text:
            return
        text = self.pending + text
        body = text.rstrip()
        self.pending = text[len(body) :]
        if body:
            out.append({"content": body})
            self.shown = True

    def _reasoning(self, text: str, out: list) -> None:
        if not self.reasoning_shown:
            text = text.lstrip()
        text = self.reasoning_pending + text
        body = text.rstrip()
        self.reasoning_pending = text[len(body) :]
        if body:
            out.append({"reasoning_content": body})
            self.reasoning_shown = True

    def _block(self, text: str, out: list) -> None:
        """One call block (or a tail of calls): its calls, or its text as content when it does not parse."""
        parsed = parse_assistant(text, self.plan.template)
        if not parsed.tool_calls:
            self._content(text, out)  # as the model wrote it (parse_assistant keeps it as content too)
            return
        if parsed.content:  # text inside a Mistral/Llama tail that is not a call
            self._content(parsed.content, out)
        for call in parsed.tool_calls:
            if self.calls and not self.plan.parallel:
                break
            out.append({"tool_calls": [{"index": self.calls, **call}]})
            self.calls += 1
