"""grpo's shared prefill: each prompt prefilled once and its cache repeated for the group's rows gives the
completions that prefilling every row (generate alone) gives, on prompts of different lengths (left padding)."""

from __future__ import annotations

import pytest
import torch

from lmforge.inference.generation import left_pad
from lmforge.training.grpo import shared_prefill


@pytest.mark.parametrize("arch", ["tiny_llama", "tiny_gpt2"])
def test_shared_prefill_gives_generates_tokens(arch, request):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    path = request.getfixturevalue(arch)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32),
        LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0),
    )
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # an adapter off zero, so the LoRA layers are part of what is cached
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    model.eval()
    prompts, groups = [[5, 9, 13, 40, 7], [11, 3], [8, 8, 21, 30]], 3
    ids, mask = left_pad([p for p in prompts for _ in range(groups)], 0)
    kw = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 0, "eos_token_id": None}
    with torch.no_grad():
        alone = model.generate(input_ids=ids, attention_mask=mask, **kw)
        cache = shared_prefill(model, prompts, groups, 0, "cpu")
        assert cache.get_seq_length() == ids.shape[1] - 1
        shared = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache, **kw)
    assert torch.equal(shared, alone)
    assert shared_prefill(model, [[5], [6, 7]], 2, 0, "cpu") is None  # a one-token prompt: generate prefills
