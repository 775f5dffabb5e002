"""DIR/Modelfile for Ollama (`ollama create NAME -f DIR/Modelfile`), written next to DIR/model.gguf.

Ollama's TEMPLATE is a Go template, not Jinja, so the chat template is translated. Two are supported,
recognised by what they render (not by their source text): ChatML (`<|im_start|>role\\n...<|im_end|>\\n`,
the built-in model's) with its default system prompt as SYSTEM, and lmforge's fallback template
(`### User:` / `### Assistant:`) for models that had none. Any other template gets no TEMPLATE line:
Ollama then picks one from the GGUF's own tokenizer.chat_template. Stops are the EOS tokens; the
temperature is 0 (greedy, as `lmforge generate`) unless generation_config.json samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODELFILE = "Modelfile"

# one message per pass; `$last` opens the assistant turn after the final user (or system) message
CHATML_GO = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n"
    "<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    '{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant\n'
    "{{ end }}\n"
    "{{- end }}"
)

FALLBACK_GO = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    '{{- if eq .Role "system" }}### System:\n'
    "{{ .Content }}\n\n"
    '{{ else if eq .Role "user" }}### User:\n'
    "{{ .Content }}\n\n"
    "{{ else }}### Assistant:\n"
    "{{ .Content }}EOS\n\n"
    "{{ end }}\n"
    '{{- if and $last (ne .Role "assistant") }}### Assistant:\n'
    "{{ end }}\n"
    "{{- end }}"
)

_PROBE = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "U"},
    {"role": "assistant", "content": "A"},
    {"role": "user", "content": "V"},
]


def chatml_text(messages: list[dict[str, str]], generation_prompt: bool = True) -> str:
    """[{"role": "user", "content": "Hi"}] -> '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if generation_prompt else "")


def fallback_text(messages: list[dict[str, str]], eos: str, generation_prompt: bool = True) -> str:
    """lmforge's FALLBACK_TEMPLATE written out: [user Hi] -> '### User:\\nHi\\n\\n### Assistant:\\n'."""
    heads = {"system": "### System:\n", "user": "### User:\n"}
    text = "".join(
        heads[m["role"]] + m["content"] + "\n\n"
        if m["role"] in heads
        else "### Assistant:\n" + m["content"] + eos + "\n\n"
        for m in messages
    )
    return text + ("### Assistant:\n" if generation_prompt else "")


def template_for(tokenizer: Any) -> tuple[str | None, str | None, str | None]:
    """(kind, Go template, default system prompt) for the tokenizer's chat template; kind None if unknown.

    >>> template_for(tok)[0]  # the built-in model  # doctest: +SKIP
    'chatml'
    """
    from lmforge.formatting.templates import render

    eos = tokenizer.eos_token or ""
    text = render(tokenizer, _PROBE, add_generation_prompt=True)
    if text == chatml_text(_PROBE):
        bare = render(tokenizer, _PROBE[1:2], add_generation_prompt=True)
        head, system = bare[: -len(chatml_text(_PROBE[1:2]))], None
        if head.startswith("<|im_start|>system\n") and head.endswith("<|im_end|>\n"):
            system = head[len("<|im_start|>system\n") : -len("<|im_end|>\n")]  # injected when none is given
        return "chatml", CHATML_GO, system
    if text == fallback_text(_PROBE, eos):
        return "fallback", FALLBACK_GO.replace("EOS", eos), None
    return None, None, None


def modelfile_text(tokenizer: Any, generation: dict) -> str:
    """The Modelfile: FROM, TEMPLATE, SYSTEM, one `PARAMETER stop` per EOS token, sampling defaults."""
    kind, template, system = template_for(tokenizer)
    lines = ["# written by `lmforge export --format gguf`", "FROM ./model.gguf", ""]
    if template is not None:
        lines += [f"# chat template: {kind}, translated to Go template syntax", f'TEMPLATE """{template}"""']
    else:
        lines += ["# chat template: not ChatML nor lmforge's fallback: Ollama reads the GGUF's chat template"]
    if system:
        lines.append(f'SYSTEM """{system}"""')
    for stop in stop_strings(tokenizer, generation):
        lines.append(f'PARAMETER stop "{stop}"')
    sampling = bool(generation.get("do_sample"))
    lines.append(f"PARAMETER temperature {generation.get('temperature', 1.0) if sampling else 0}")
    if sampling and generation.get("top_p") is not None:
        lines.append(f"PARAMETER top_p {generation['top_p']}")
    if sampling and generation.get("top_k") is not None:
        lines.append(f"PARAMETER top_k {generation['top_k']}")
    if generation.get("repetition_penalty") not in (None, 1.0):
        lines.append(f"PARAMETER repeat_penalty {generation['repetition_penalty']}")
    return "\n".join(lines) + "\n"


def stop_strings(tokenizer: Any, generation: dict) -> list[str]:
    """The text of every id that ends a turn: the tokenizer's EOS, then generation_config's eos_token_id."""
    ids = generation.get("eos_token_id")
    ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
    if tokenizer.eos_token_id is not None:
        ids = [tokenizer.eos_token_id, *ids]
    stops: list[str] = []
    for i in ids:
        text = tokenizer.convert_ids_to_tokens(i)
        if text and text not in stops:
            stops.append(text)
    return stops


def write_modelfile(out_dir: str | Path, tokenizer: Any, generation: dict | None = None) -> Path:
    """Write out_dir/Modelfile; returns its path."""
    path = Path(out_dir) / MODELFILE
    path.write_text(modelfile_text(tokenizer, generation or {}), encoding="utf-8")
    return path
