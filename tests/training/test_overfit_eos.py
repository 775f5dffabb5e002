"""A tiny model over-fits four chat examples and learns to end its answer with EOS (generations stop)."""

from __future__ import annotations

from train_helpers import make_cfg

from lmforge.formatting.templates import encode_prompt
from lmforge.inference.generation import generate, load_for_inference
from lmforge.models import load_tokenizer
from lmforge.training.run import train

PAIRS = [("Say hi", "hello there"), ("Name a colour", "blue"), ("Count", "one two three"), ("Bye", "see you")]


def chat_examples(tokenizer) -> list[dict]:
    """Prompt (chat template, masked) + response + EOS (trained, so the model learns to stop)."""
    out = []
    for prompt, response in PAIRS:
        p = encode_prompt(tokenizer, [{"role": "user", "content": prompt}])
        r = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        out.append({"input_ids": p + r, "labels": [-100] * len(p) + r})
    return out


def test_overfit_and_stop_with_eos(tiny_model, tmp_path):
    from lmforge.formatting.packing import collate

    tok = load_tokenizer(tiny_model)
    cfg = make_cfg(
        tiny_model,
        str(tmp_path / "run"),
        "model.lora=null",
        "train.max_steps=60",
        "train.lr=1e-2",
        "train.scheduler=constant",
        "train.warmup_steps=5",
        "train.log_every=10",
    )
    metrics = train(cfg, data=(chat_examples(tok), []), collate=collate)
    assert metrics["train_loss"] < 0.05
    model, tokenizer = load_for_inference(str(tmp_path / "run"))
    outs = generate(model, tokenizer, [p for p, _ in PAIRS], max_new_tokens=24)
    assert [o.text for o in outs] == [r for _, r in PAIRS]
    assert all(o.finished for o in outs)  # stopped at EOS, not at max_new_tokens
