"""DIR/Modelfile for Ollama: content for ChatML (the built-in model's template) and lmforge's fallback.

Where Go is installed, the TEMPLATE is also run through Go's own text/template (what Ollama executes)
and must render each conversation exactly as transformers' apply_chat_template does; Ollama puts the
Modelfile's SYSTEM first when a conversation has no system message, and the test does the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from lmforge.exporting.modelfile import modelfile_text, template_for
from lmforge.formatting.templates import FALLBACK_TEMPLATE, ensure_chat_template, render
from lmforge.models import load_tokenizer

SMOLLM_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
    [
        {"role": "user", "content": "Name a city."},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": 'Another one, with "quotes" and\nnew lines?'},
    ],
]

# Ollama's api.Message fields the templates read, and the executor it uses (text/template)
GO_RENDER = """package main

import (
\t"encoding/json"
\t"os"
\t"text/template"
)

type Message struct {
\tRole    string `json:"role"`
\tContent string `json:"content"`
}

func main() {
\tsrc, _ := os.ReadFile(os.Args[1])
\tvar msgs []Message
\tif err := json.NewDecoder(os.Stdin).Decode(&msgs); err != nil {
\t\tpanic(err)
\t}
\ttmpl := template.Must(template.New("t").Parse(string(src)))
\tif err := tmpl.Execute(os.Stdout, map[string]any{"Messages": msgs}); err != nil {
\t\tpanic(err)
\t}
}
"""


def test_chatml_modelfile(tiny_llama):
    text = modelfile_text(load_tokenizer(tiny_llama), {"eos_token_id": 2})
    assert text.splitlines()[1] == "FROM ./model.gguf"
    assert "# chat template: chatml" in text
    assert 'TEMPLATE """{{- range $i, $_ := .Messages }}' in text and "<|im_start|>{{ .Role }}" in text
    assert f'SYSTEM """{SMOLLM_SYSTEM}"""' in text
    assert text.count("PARAMETER stop") == 1 and 'PARAMETER stop "<|im_end|>"' in text
    assert "PARAMETER temperature 0\n" in text


def test_fallback_modelfile_and_sampling(tiny_gpt2):
    tok = load_tokenizer(tiny_gpt2)  # no chat template of its own: lmforge's fallback
    text = modelfile_text(tok, {"do_sample": True, "temperature": 0.7, "top_p": 0.9})
    assert "# chat template: fallback" in text and "### Assistant:" in text
    assert "SYSTEM" not in text
    assert 'PARAMETER stop "<|endoftext|>"' in text
    assert "PARAMETER temperature 0.7" in text and "PARAMETER top_p 0.9" in text


def test_unknown_template_leaves_it_to_ollama(tiny_gpt2):
    tok = ensure_chat_template(
        load_tokenizer(tiny_gpt2), "{% for m in messages %}[{{ m['content'] }}]{% endfor %}"
    )
    assert template_for(tok) == (None, None, None)
    text = modelfile_text(tok, {})
    assert "TEMPLATE" not in text and "Ollama reads the GGUF's chat template" in text


@pytest.mark.skipif(shutil.which("go") is None, reason="Go not installed (optional check of the Go template)")
@pytest.mark.parametrize("model", ["tiny_llama", "tiny_gpt2"])
def test_go_template_renders_like_jinja(model, request, tmp_path):
    tok = ensure_chat_template(load_tokenizer(request.getfixturevalue(model)))
    kind, template, system = template_for(tok)
    assert kind == ("chatml" if model == "tiny_llama" else "fallback")
    assert model == "tiny_gpt2" or tok.chat_template != FALLBACK_TEMPLATE
    (tmp_path / "main.go").write_text(GO_RENDER)
    (tmp_path / "t.tmpl").write_text(template)
    binary = tmp_path / "render"
    subprocess.run(
        ["go", "build", "-o", str(binary), "main.go"], cwd=tmp_path, check=True, env=_go_env(tmp_path)
    )
    for messages in CONVERSATIONS:
        sent = (
            messages
            if messages[0]["role"] == "system" or not system
            else [
                {"role": "system", "content": system},
                *messages,
            ]
        )
        go = subprocess.run(
            [str(binary), str(tmp_path / "t.tmpl")], input=json.dumps(sent), capture_output=True, text=True
        )
        assert go.returncode == 0, go.stderr
        assert go.stdout == render(tok, messages, add_generation_prompt=True), messages


def _go_env(tmp_path) -> dict:
    import os

    return {**os.environ, "GOCACHE": str(tmp_path / "gocache"), "GO111MODULE": "off", "GOPATH": str(tmp_path)}
