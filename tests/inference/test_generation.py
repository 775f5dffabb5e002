import subprocess
import sys

import pytest
import torch

from lmforge.cli import main
from lmforge.formatting.templates import FALLBACK_TEMPLATE, encode_prompt, render
from lmforge.inference.generation import eos_ids, generate, left_pad, load_for_inference


def test_left_pad():
    ids, mask = left_pad([[5, 6], [7]], pad_id=0)
    assert ids.tolist() == [[5, 6], [0, 7]]
    assert mask.tolist() == [[1, 1], [0, 1]]


def test_batched_equals_one_by_one(tiny_model):
    model, tok = load_for_inference(tiny_model)
    prompts = ["Hello there", "What is the capital of France? Please answer.", "Hi"]
    batched = generate(model, tok, prompts, max_new_tokens=8, batch_size=3)
    single = [generate(model, tok, [p], max_new_tokens=8)[0] for p in prompts]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.tokens <= 8 for g in batched)


def test_stops_at_eos_and_reports_it(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    bias = torch.zeros(model.config.vocab_size)
    bias[tok.eos_token_id] = 1e9  # make EOS the certain next token
    model.lm_head.register_forward_hook(lambda m, i, o: o + bias)
    out = generate(model, tok, ["anything"], max_new_tokens=5)[0]
    assert out.finished and out.tokens == 1 and out.text == ""


def test_no_eos_means_unfinished(tiny_gpt2):
    model, tok = load_for_inference(tiny_gpt2)
    bias = torch.zeros(model.config.vocab_size)
    bias[tok.eos_token_id] = -1e9
    model.lm_head.register_forward_hook(lambda m, i, o: o + bias)
    out = generate(model, tok, ["hello"], max_new_tokens=6)[0]
    assert not out.finished and out.tokens == 6


def test_gpt2_gets_fallback_template(tiny_gpt2):
    _, tok = load_for_inference(tiny_gpt2)
    assert tok.pad_token is None
    text = render(tok, [{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert tok.chat_template == FALLBACK_TEMPLATE
    assert text == "### User:\nHi\n\n### Assistant:\n"


def test_llama_prompt_uses_builtin_chat_template(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    ids = encode_prompt(tok, [{"role": "user", "content": "Hi"}])
    assert tok.decode(ids).endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert tok.eos_token_id in eos_ids(model, tok)


def test_raw_mode_skips_template(tiny_gpt2):
    model, tok = load_for_inference(tiny_gpt2)
    out = generate(model, tok, ["The quick brown fox"], raw=True, max_new_tokens=4)
    assert len(out) == 1 and out[0].tokens <= 4


def test_sampling_is_seeded(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    torch.manual_seed(0)
    a = generate(model, tok, ["Hi"], temperature=1.0, top_p=0.9, max_new_tokens=6)[0].text
    torch.manual_seed(0)
    b = generate(model, tok, ["Hi"], temperature=1.0, top_p=0.9, max_new_tokens=6)[0].text
    assert a == b


def test_cli_generate_on_tiny_model(tiny_gpt2, capsys):
    assert main(["generate", "--model", tiny_gpt2, "--max-new-tokens", "4", "Hello"]) == 0
    assert capsys.readouterr().out.endswith("\n")


def test_cli_generate_missing_model_exits_2(capsys):
    assert main(["generate", "--model", "./nowhere", "Hello"]) == 2
    assert "model not found: ./nowhere" in capsys.readouterr().err


def test_chat_keeps_history_and_resets(tiny_gpt2):
    proc = subprocess.run(
        [sys.executable, "-m", "lmforge.cli", "chat", "--model", tiny_gpt2, "--max-new-tokens", "3"],
        input="Hello\nAnd again\n/reset\n/exit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("model> ") == 2 and "(history cleared)" in proc.stdout


@pytest.mark.slow
def test_builtin_model_knows_paris(builtin_model):
    model, tok = builtin_model
    out = generate(model, tok, ["What is the capital of France?"], max_new_tokens=32)[0]
    assert "Paris" in out.text and out.finished


@pytest.mark.slow
def test_cli_generate_builtin(capsys):
    assert main(["generate", "What is the capital of France?", "--max-new-tokens", "32"]) == 0
    assert "Paris" in capsys.readouterr().out
