"""Tool calls and thinking traces through the model's own chat template, or lmforge's documented default.

A template that renders tools (its text handles `tools` and `tool_calls`: Qwen2.5/3, Llama 3.1, Mistral)
is used as it is, through `apply_chat_template(..., tools=...)`. One that does not (the built-in model's
ChatML, the GPT-2 fallback) gets a tool branch in the Hermes / Qwen2.5 style, added around the original:

    <|im_start|>system
    {system}\\n\\n (when given)# Tools ... <tools>\\n{tool json}\\n...</tools> ... <|im_end|>
    <|im_start|>assistant
    {content}\\n (when given)<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call><|im_end|>
    <|im_start|>user
    <tool_response>\\n{result}\\n</tool_response><|im_end|>   (results in a row share one user turn)

A conversation without tools or tool turns takes the original template's branch: its text is unchanged.
The template written is the tokenizer's `chat_template`, saved with the trained model, so `generate`,
`serve`, merged exports, GGUF and the Ollama Modelfile (which read it from there) render the same tokens.

Thinking (`train.thinking`: keep | last | drop): the reasoning of every assistant turn, of the last one
only, or of none. A template that renders `reasoning_content` itself (Qwen3) gets it as that field, and
`drop` sets its own switch, `enable_thinking=false` (written into the saved template as the default, so
inference's generation prompt is the one trained). Other templates get the reasoning inside the content,
`<think>\\n{reasoning}\\n</think>\\n\\n{answer}` (DeepSeek-R1's and Qwen3's form).
"""

from __future__ import annotations

import json
from typing import Any

THINKING_MODES = ("keep", "last", "drop")
_TOOLS_PROMPT = (
    "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>"
)
_CALL_PROMPT = (
    "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": <function-name>, "arguments": '
    "<args-json-object>}\\n</tool_call>"
)
# turn markers of the two tool branches: ChatML (the built-in model's family) and the GPT-2 fallback's
_STYLES = {
    "chatml": {
        "open": "'<|im_start|>' + {role} + '\\n'",
        "close": "'<|im_end|>\\n'",  # {role}: the closing of the fallback depends on it
        "tool_role": "'user'",
        "generation": "'<|im_start|>assistant\\n'",
    },
    "fallback": {
        "open": "'### ' + ({role} | capitalize) + ':\\n'",
        "close": "(eos_token if {role} == 'assistant' else '') + '\\n\\n'",
        "tool_role": "'tool'",
        "generation": "'### Assistant:\\n'",
    },
}
_NO_THINKING_DEFAULT = (
    "{%- if enable_thinking is not defined %}{%- set enable_thinking = false %}{%- endif %}"
)


def supports_tools(template: str) -> bool:
    """Whether a chat template renders tools itself (it reads both `tools` and `tool_calls`)."""
    return "tools" in template and "tool_calls" in template


def renders_reasoning(template: str) -> bool:
    """Whether a chat template renders `reasoning_content` itself (Qwen3's does; it drops it from history)."""
    return "reasoning_content" in template


def with_tool_support(template: str) -> str:
    """`template` with lmforge's default tool branch around it (the template itself where it has tools).

    >>> "<tool_call>" in with_tool_support("{% for m in messages %}<|im_start|>...{% endfor %}")
    True
    """
    if supports_tools(template):
        return template
    style = _STYLES["chatml" if "<|im_start|>" in template else "fallback"]
    body = "\n" + template if template.startswith("\n") else template  # trim_blocks eats one newline
    uses = (
        "{%- set ns_tools = namespace(on=tools is defined and tools is not none and tools | length > 0) %}"
        "{%- for m in messages %}{% if m.role == 'tool' or m.tool_calls %}{% set ns_tools.on = true %}"
        "{% endif %}{% endfor %}"
    )
    return (
        uses + "{%- if not ns_tools.on %}" + body + "{{ '' }}{% else %}" + _tool_branch(style) + "{% endif %}"
    )


def _tool_branch(s: dict[str, str]) -> str:
    def open_(role: str) -> str:
        return s["open"].format(role=role)

    def close(role: str) -> str:
        return s["close"].format(role=role)

    return (
        "{%- set loop_messages = messages %}{%- set system = '' %}"
        "{%- if messages[0].role == 'system' %}{%- set system = messages[0].content %}"
        "{%- set loop_messages = messages[1:] %}{%- endif %}"
        "{%- if tools %}{{- " + open_("'system'") + " }}{%- if system %}{{- system + '\\n\\n' }}{%- endif %}"
        "{{- '" + _TOOLS_PROMPT + "' }}{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
        "{{- '" + _CALL_PROMPT + "' + " + close("'system'") + " }}"
        "{%- elif system %}{{- " + open_("'system'") + " + system + " + close("'system'") + " }}{%- endif %}"
        "{%- for m in loop_messages %}"
        "{%- if m.role == 'tool' %}"
        "{%- if loop.first or loop_messages[loop.index0 - 1].role != 'tool' %}{{- "
        + open_(s["tool_role"])
        + " }}"
        "{%- else %}{{- '\\n' }}{%- endif %}"
        "{{- '<tool_response>\\n' + m.content + '\\n</tool_response>' }}"
        "{%- if loop.last or loop_messages[loop.index0 + 1].role != 'tool' %}{{- "
        + close(s["tool_role"])
        + " }}"
        "{%- endif %}"
        "{%- else %}{{- " + open_("m.role") + " + (m.content or '') }}"
        "{%- for call in m.tool_calls or [] %}{%- set f = call.function or call %}"
        "{%- if m.content or not loop.first %}{{- '\\n' }}{%- endif %}"
        "{{- '<tool_call>\\n{\"name\": \"' + f.name + '\", \"arguments\": ' + (f.arguments | tojson) + '}\\n</tool_call>' }}"
        "{%- endfor %}{{- " + close("m.role") + " }}{%- endif %}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{- " + s["generation"] + " }}{%- endif %}"
    )


def prepare_template(tokenizer: Any, tools: bool = False, thinking: str = "keep") -> Any:
    """The tokenizer's chat template made ready for tools and the thinking mode; returns the tokenizer.

    Writes what training will render into `tokenizer.chat_template`, which is saved with the model.
    """
    template = tokenizer.chat_template
    if not isinstance(template, str):
        return tokenizer
    if tools:
        template = with_tool_support(template)
    if thinking == "drop" and "enable_thinking" in template and not template.startswith(_NO_THINKING_DEFAULT):
        template = _NO_THINKING_DEFAULT + template
    tokenizer.chat_template = template
    return tokenizer


def template_messages(
    messages: list[dict[str, Any]], template: str, thinking: str = "keep"
) -> list[dict[str, Any]]:
    """The messages as the template takes them: reasoning kept per `thinking` (as a field where the
    template renders it, else inside the content), tool-call arguments as objects.

    >>> template_messages([{"role": "assistant", "content": "4", "reasoning_content": "2+2"}], "{{ x }}")
    [{'role': 'assistant', 'content': '<think>\\n2+2\\n</think>\\n\\n4'}]
    """
    # "last": the reasoning of the final turn, when it is the assistant's (the answer being trained); a
    # prompt's history (ending with a user or tool turn) keeps none, as the trained prompts had none
    last = len(messages) - 1 if messages and messages[-1].get("role") == "assistant" else -1
    as_field = renders_reasoning(template)
    out = []
    for i, m in enumerate(messages):
        if m.get("role") != "assistant" or not (m.get("reasoning_content") or m.get("tool_calls")):
            out.append(m)
            continue
        m = {**m}
        reasoning = m.pop("reasoning_content", None)
        if reasoning and (thinking == "keep" or (thinking == "last" and i == last)):
            if as_field:
                m["reasoning_content"] = reasoning
            else:
                m["content"] = f"<think>\n{reasoning}\n</think>\n\n{m.get('content') or ''}"
        if m.get("tool_calls"):
            m["tool_calls"] = [_parsed_arguments(c) for c in m["tool_calls"]]
        out.append(m)
    return out


def template_kwargs(template: str, thinking: str = "keep") -> dict[str, Any]:
    """Variables for the template's own thinking switch: `enable_thinking=False` for drop where it has one."""
    return {"enable_thinking": False} if thinking == "drop" and "enable_thinking" in template else {}


def _parsed_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's arguments are JSON text; templates render `arguments | tojson`, so they need the object."""
    function = call.get("function")
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        try:
            return {**call, "function": {**function, "arguments": json.loads(function["arguments"])}}
        except json.JSONDecodeError:
            return call
    return call
