"""Preference training as TRL does it: dropout off by default (the reference pass has none), an option
keeps it; KTO refuses a batch of one example (its KL row would be its own answer)."""

from __future__ import annotations

import pytest
import torch

from lmforge.config import TrainConfig
from lmforge.errors import UserError
from lmforge.training.preference_loss import PreferenceLoss, collate_pairs, disable_dropout

PAIRS = [
    {"input_ids": [5, 6, 7, 8, 9, 10, 2], "prompt_len": 3, "rejected_ids": [11, 12, 2]},
    {"input_ids": [12, 13, 14, 2], "prompt_len": 2, "rejected_ids": [15, 16, 17, 18, 19, 2]},
]


def _dropout_model():
    """A tiny Llama with attention dropout 0.1 under LoRA dropout 0.05, its adapter untrained (B = 0)."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        attention_dropout=0.1,
    )
    model = LlamaForCausalLM(config)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.05)
    return get_peft_model(model, lora).train()


def _two_steps(loss: PreferenceLoss) -> list[tuple[float, dict]]:
    batch = collate_pairs(PAIRS, 0)
    out = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        value = float(loss(batch).detach())
        out.append((value, loss.pop_stats()))
    return out


def test_dropout_is_off_by_default_so_step_0_rewards_are_0():
    """Policy = reference at step 0 (LoRA B = 0): with dropout off, DPO's rewards and margin are exactly 0
    and the loss is log 2, whatever the RNG; TRL's DPOConfig has disable_dropout=True."""
    model = _dropout_model()
    steps = _two_steps(PreferenceLoss(model, TrainConfig(objective="dpo")))
    for value, stats in steps:
        assert value == pytest.approx(2 * torch.log(torch.tensor(2.0)).item(), abs=1e-6)
        assert stats["rewards/chosen"] == stats["rewards/rejected"] == stats["rewards/margin"] == 0
    assert not any(isinstance(m, torch.nn.Dropout) and m.p for m in model.modules())


def test_preference_dropout_keeps_it():
    model = _dropout_model()
    steps = _two_steps(PreferenceLoss(model, TrainConfig(objective="dpo", preference_dropout=True)))
    assert steps[0][1]["rewards/chosen"] != 0  # the policy pass drew dropout masks, the reference did not
    assert steps[0][0] != steps[1][0]


def test_disable_dropout_zeroes_modules_and_attention_dropout():
    model = _dropout_model()
    assert disable_dropout(model) > 0
    attention = model.get_base_model().model.layers[0].self_attn
    assert attention.attention_dropout == 0.0
    assert disable_dropout(model) == 0  # nothing left


def test_kto_refuses_a_batch_of_one():
    with pytest.raises(UserError, match=r"train\.batch_size: kto needs at least 2") as e:
        TrainConfig(objective="kto", batch_size=1)
    assert e.value.exit_code == 2
    assert TrainConfig(objective="kto", batch_size=2).batch_size == 2
    assert TrainConfig(objective="dpo", batch_size=1).batch_size == 1


def test_kto_batch_of_one_is_a_config_error_from_yaml(tmp_path):
    from lmforge.config import load_config

    path = tmp_path / "exp.yaml"
    path.write_text("task: {type: preference}\ntrain: {objective: kto, batch_size: 1}\n")
    with pytest.raises(UserError, match=r"^config error: train\.batch_size"):
        load_config(str(path))
