"""SFT -> DPO: a preference run whose `model.name` is an SFT run folder holding a LoRA adapter.

Through the CLI on a tiny Llama: the SFT run, then a DPO run from its folder. The DPO run's reference (its
model with the new adapter disabled) must be the SFT model, checked against peft's own unmerged
base + SFT adapter; final/lmforge.json names the chain; the result loads with lmforge's loader and
generates. `model.from_adapter: continue` keeps training the SFT adapter, its reference cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from lmforge.cli.main import main

FAST = ["train.precision=fp32", "train.warmup_ratio=0", "train.batch_size=4", "train.log_every=1"]


def _write(root: Path, name: str, rows: list[dict]) -> Path:
    data = root / name
    data.mkdir(parents=True)
    for split, part in (("train", rows[:-4]), ("val", rows[-4:])):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return data


def _sft_run(root: Path, tiny_llama: str) -> Path:
    rows = [
        {"id": f"s:{i}", "meta": {}, "prompt": f"Is {i} even?", "response": "Yes." if i % 2 else "No."}
        for i in range(20)
    ]
    data = _write(root, "sft-data", rows)
    (root / "sft.yaml").write_text(f"data: {{output_dir: {data}}}\ntask: {{type: sft}}\n")
    run = root / "sft"
    argv = ["train", str(root / "sft.yaml"), f"model.name={tiny_llama}", f"train.output_dir={run}"]
    assert main([*argv, *FAST, "train.max_steps=6", "train.lr=0.01", "train.eval_every=0"]) == 0
    return run


def _pairs_config(root: Path) -> Path:
    rows = [
        {
            "id": f"p:{i}",
            "meta": {},
            "prompt": f"Is {i} even?",
            "chosen": "Yes." if i % 2 else "No.",
            "rejected": "Maybe, who knows.",
        }
        for i in range(20)
    ]
    data = _write(root, "pair-data", rows)
    (root / "dpo.yaml").write_text(
        f"data: {{output_dir: {data}}}\ntask: {{type: preference}}\ntrain: {{objective: dpo}}\n"
    )
    return root / "dpo.yaml"


@pytest.fixture(scope="module")
def chain(tiny_llama, tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    sft = _sft_run(root, tiny_llama)
    config = _pairs_config(root)
    dpo = root / "dpo"
    argv = ["train", str(config), f"model.name={sft}", f"train.output_dir={dpo}", "train.eval_every=3"]
    assert main([*argv, *FAST, "train.max_steps=6", "train.lr=0.01"]) == 0
    return root, sft, dpo, config


def _logps(model, tokenizer) -> torch.Tensor:
    """Summed answer log-probs of a few pairs, rendered as training renders them."""
    from lmforge.config import load_config
    from lmforge.formatting.token_cache import make_task
    from lmforge.training.preference_loss import collate_pairs, sequence_logps

    task = make_task(load_config(None, ["task.type=preference", "train.objective=dpo"]))
    records = [{"prompt": f"Is {i} odd?", "chosen": "Yes.", "rejected": "No, never."} for i in range(4)]
    examples, _ = task.encode_batch(records, tokenizer, 128)
    model.eval()
    with torch.no_grad():
        return sequence_logps(model, collate_pairs(examples, tokenizer.eos_token_id))[0]


def _peft_sft(tiny_llama: str, sft: Path):
    """The SFT model as peft loads it, unmerged: the independent side of the reference check."""
    from peft import PeftModel

    from lmforge.models import load_model

    return PeftModel.from_pretrained(load_model(tiny_llama), str(sft / "final"))


def test_dpo_from_an_sft_run_records_the_chain(chain, tiny_llama):
    _, sft, dpo, _ = chain
    meta = json.loads((dpo / "final" / "lmforge.json").read_text())
    weights = (sft / "final" / "adapter_model.safetensors").read_bytes()
    assert meta["chain"] == {
        "run": str(sft.resolve()),
        "adapter": str((sft / "final").resolve()),
        "base_model": str(Path(tiny_llama).resolve()),
        "from_adapter": "merge",
        "adapter_sha256": hashlib.sha256(weights).hexdigest(),
        "objective": "sft",
        "chain": None,
    }
    # the new adapter names the SFT run as its base: loading it merges the SFT adapter first
    adapter_cfg = json.loads((dpo / "final" / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == str(sft.resolve())
    rows = [json.loads(x) for x in (dpo / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["step"] == 0 and rows[0]["val_rewards/margin"] == 0  # policy == reference at the start
    assert rows[-1]["val_rewards/margin"] > 0


def test_the_reference_is_the_merged_sft_model_and_the_result_generates(chain, tiny_llama):
    from lmforge.inference.generation import generate, load_for_inference

    _, sft, dpo, _ = chain
    model, tokenizer = load_for_inference(str(dpo))
    sft_model = _peft_sft(tiny_llama, sft)
    with model.disable_adapter():  # the DPO run's reference
        reference = _logps(model, tokenizer)
    expected = _logps(sft_model, tokenizer)
    torch.testing.assert_close(reference, expected, atol=1e-4, rtol=1e-5)
    with sft_model.disable_adapter():  # the pretrained base is not it: the check can fail
        assert (_logps(sft_model, tokenizer) - expected).abs().max() > 1e-2
    assert (_logps(model, tokenizer) - expected).abs().max() > 1e-3  # DPO moved the policy
    out = generate(model, tokenizer, ["Is 3 even?"], max_new_tokens=4)
    assert out[0].tokens > 0


def test_the_training_model_is_the_merged_sft_model_plus_a_fresh_adapter(chain, tiny_llama):
    from lmforge.config import load_config
    from lmforge.models import load_tokenizer
    from lmforge.training.setup import build_model

    _, sft, _, config = chain
    cfg = load_config(config, [f"model.name={sft}"])
    tokenizer = load_tokenizer(cfg.model.name)
    model = build_model(cfg, tokenizer)
    # a fresh LoRA (B = 0) on merged weights: the policy at step 0 equals peft's unmerged SFT model
    torch.testing.assert_close(
        _logps(model, tokenizer), _logps(_peft_sft(tiny_llama, sft), tokenizer), atol=1e-4, rtol=1e-5
    )


def test_continue_keeps_training_the_sft_adapter(chain, tiny_llama):
    root, sft, _, config = chain
    out = root / "dpo-continue"
    argv = [
        "train",
        str(config),
        f"model.name={sft}",
        f"train.output_dir={out}",
        "model.from_adapter=continue",
    ]
    assert main([*argv, *FAST, "train.max_steps=4", "train.lr=0.01", "train.eval_every=2"]) == 0
    meta = json.loads((out / "final" / "lmforge.json").read_text())
    assert meta["chain"]["from_adapter"] == "continue" and meta["chain"]["run"] == str(sft.resolve())
    # the continued adapter replaces the SFT one: its base is the SFT run's base
    adapter_cfg = json.loads((out / "final" / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == str(Path(tiny_llama).resolve())
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    # the reference is the SFT model as loaded (cached log-probs), so step 0 has a zero margin
    assert rows[0]["step"] == 0 and rows[0]["val_rewards/margin"] == 0
    assert rows[0]["val_loss"] == pytest.approx(0.693147, abs=1e-6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.from_adapter=continue", "model.lora=null"], "model.lora must not be null"),
        (["model.from_adapter=continue", "train.objective=kto"], "kto"),
    ],
)
def test_combinations_that_cannot_work_are_one_line(chain, capsys, overrides, message):
    root, sft, _, config = chain
    argv = ["train", str(config), f"model.name={sft}", f"train.output_dir={root / 'bad'}", *overrides]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_eval_compares_the_sft_model_with_sft_plus_dpo(chain, tiny_llama):
    """`lmforge eval dpo.yaml model.name=runs/sft`: the base column is the SFT model (loaded merged)."""
    from lmforge.api import evaluate
    from lmforge.config import load_config

    _, sft, dpo, config = chain
    cfg = load_config(config, [f"model.name={sft}", f"train.output_dir={dpo}"])
    out = evaluate(cfg, split="val")
    assert set(out["base"]) == set(out["finetuned"])  # + the general probes' metrics (general.py)
    assert {"preference_accuracy", "reward_margin"} <= set(out["base"])
    assert out["finetuned"]["reward_margin"] > out["base"]["reward_margin"]
    pretrained = evaluate(
        load_config(config, [f"model.name={tiny_llama}", f"train.output_dir={dpo}"]), split="val"
    )
    assert (
        abs(pretrained["base"]["reward_margin"] - out["base"]["reward_margin"]) > 1e-3
    )  # the SFT model, not its base
