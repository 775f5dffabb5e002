"""The preference path's two speed-ups give the plain path's numbers: padding-free rows and chunked log-probs.

- With `lmforge_docs` attention, sequence_logps runs the 2B padded rows as one packed row; its log-probs and
  LoRA gradients equal the padded forward's (SDPA with the padding mask) in fp32.
- head_logps (chunked, the gradient kept from the forward) equals log_softmax + gather, values and gradients.
"""

from __future__ import annotations

import pytest
import torch

from lmforge.training import head_ce
from lmforge.training.head_ce import head_logps
from lmforge.training.preference_loss import collate_pairs, sequence_logps

EXAMPLES = [  # prompt + chosen as input_ids; rejected answers of other lengths (so rows are padded)
    {"input_ids": [5, 6, 7, 8, 9, 10, 2], "prompt_len": 3, "rejected_ids": [11, 2]},
    {"input_ids": [12, 13, 14, 2], "prompt_len": 2, "rejected_ids": [15, 16, 17, 18, 19, 2]},
    {"input_ids": [20, 21, 22, 23, 24, 25, 26, 27, 28, 2], "prompt_len": 5, "rejected_ids": [29, 2]},
]


def _model(path: str):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lmforge.training.setup import choose_attention

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    assert choose_attention(model) == "lmforge_docs"
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # B != 0: the adapter changes the output, so its gradients are not trivial
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def _logps_and_grads(model, batch):
    logps, counts = sequence_logps(model, batch)
    (logps * torch.linspace(0.5, 1.5, len(logps))).sum().backward()  # a different weight per row
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return logps.detach(), counts, grads


def test_packed_rows_equal_padded_rows(tiny_llama):
    model = _model(tiny_llama)
    batch = collate_pairs(EXAMPLES, pad_id=0)
    assert (batch["attention_mask"] == 0).any()  # there is padding to skip
    packed, counts, packed_grads = _logps_and_grads(model, batch)
    model.get_base_model().set_attn_implementation("sdpa")  # the plain padded forward
    padded, counts2, padded_grads = _logps_and_grads(model, batch)
    torch.testing.assert_close(packed, padded, atol=1e-5, rtol=1e-5)
    assert counts.tolist() == counts2.tolist() == [4, 2, 5, 2, 6, 2]  # answer tokens through EOS, per row
    assert packed_grads.keys() == padded_grads.keys() and packed_grads
    for name, g in packed_grads.items():
        torch.testing.assert_close(g, padded_grads[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("chunk", [head_ce.CHUNK_ELEMENTS, 7 * 3])  # one chunk; chunks of 3 rows
def test_head_logps_equal_log_softmax(monkeypatch, chunk):
    monkeypatch.setattr("lmforge.training.head_ce.CHUNK_ELEMENTS", chunk)
    g = torch.Generator().manual_seed(0)
    h = torch.randn(8, 4, generator=g, requires_grad=True)
    w, b = torch.randn(7, 4, generator=g), torch.randn(7, generator=g)
    t = torch.randint(0, 7, (8,), generator=g)
    up = torch.randn(8, generator=g)  # a different upstream gradient per token
    ours = head_logps(h, w, b, t)
    (ours * up).sum().backward()
    ours_grad, h.grad = h.grad.clone(), None
    ref = torch.log_softmax(h @ w.T + b, -1).gather(1, t[:, None]).squeeze(1)
    (ref * up).sum().backward()
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours_grad, h.grad, atol=1e-6, rtol=1e-6)
