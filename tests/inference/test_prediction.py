"""`lmforge predict`: each record's prompt is built once, and that build is what the model is given."""

from __future__ import annotations

import json

import pytest

import lmforge.evaluation.compare as evaluate_module
from evaluation.helpers import cfg_for, sft_rows, write_splits
from lmforge.inference.prediction import predict
from lmforge.tasks.sft import SftTask


def _record_generate_calls(monkeypatch) -> list:
    """The prompts each call of evaluate's `generate` gets (the real function still runs)."""
    calls: list = []
    real = evaluate_module.generate

    def spy(model, tokenizer, prompts, **kwargs):
        calls.append((list(prompts), kwargs.get("raw", False)))
        return real(model, tokenizer, prompts, **kwargs)

    monkeypatch.setattr(evaluate_module, "generate", spy)
    return calls


def test_each_prompt_is_built_once(tiny_gpt2, tmp_path, monkeypatch):
    write_splits(tmp_path, sft_rows(24))
    cfg = cfg_for(tmp_path, tiny_gpt2, "sft")
    built = []
    real = SftTask.prompt_messages

    def counting(self, record):
        built.append(record.get("prompt"))
        return real(self, record)

    monkeypatch.setattr(SftTask, "prompt_messages", counting)
    generated = _record_generate_calls(monkeypatch)
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = ['{"prompt": "Where is office 3?"}', '{"question": "no prompt field"}', '{"prompt": "Hi"}']
    src.write_text("\n".join(lines) + "\n")
    result = predict(cfg, str(src), str(dst), model_dir=tiny_gpt2)
    assert result["written"] == 2 and [n for n, _ in result["bad"]] == [2]
    assert built == ["Where is office 3?", None, "Hi"]  # one build per line, bad line included
    prompts = generated[0][0]
    assert [p[-1] for p in prompts] == [
        {"role": "user", "content": "Where is office 3?"},
        {"role": "user", "content": "Hi"},
    ]
    rows = [json.loads(x) for x in dst.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Where is office 3?", "Hi"]


def test_causal_lm_continues_the_whole_text(tiny_gpt2, tmp_path, monkeypatch):
    write_splits(tmp_path, [{"id": f"t:{i}", "meta": {}, "text": f"Text number {i}."} for i in range(24)])
    cfg = cfg_for(tmp_path, tiny_gpt2, "causal_lm")
    generated = _record_generate_calls(monkeypatch)
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"text": "The weather in Paris today is"}) + "\n")
    assert predict(cfg, str(src), str(dst), model_dir=tiny_gpt2)["written"] == 1
    assert generated == [(["The weather in Paris today is"], True)]
    assert isinstance(json.loads(dst.read_text())["prediction"], str)


def test_predict_without_a_trained_model_names_the_path(tiny_llama, tmp_path):
    """A typo in train.output_dir must not silently give base-model predictions."""
    from lmforge.errors import UserError

    write_splits(tmp_path, sft_rows(8))
    cfg = cfg_for(tmp_path, tiny_llama, "sft")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"prompt": "hi"}) + "\n")
    with pytest.raises(UserError, match=r"no model at .*final"):
        predict(cfg, str(src), str(tmp_path / "out.jsonl"))
    # the base model, named on purpose
    assert predict(cfg, str(src), str(tmp_path / "out.jsonl"), model_dir=cfg.model.name)["written"] == 1
