"""On a CUDA device (bench/gpu.sh runs these): packing equivalence for the GPU attention backends, and a short
bf16 LoRA run. Skipped on machines without CUDA."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from lmforge.formatting.packing import collate, pack
from lmforge.training.loss import LossModule, count_targets, model_loss

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
GPU_BACKENDS = ["sdpa", "lmforge_docs"] + (
    ["flash_attention_2"] if importlib.util.find_spec("flash_attn") is not None else []
)


@pytest.mark.parametrize("attn", GPU_BACKENDS)
def test_packed_loss_equals_one_by_one_on_cuda(tiny_llama, attn):
    from lmforge.models import load_model
    from lmforge.training.packed_attention import register

    register()
    model = load_model(tiny_llama, dtype=torch.bfloat16).cuda().eval()
    model.set_attn_implementation(attn)
    g = torch.Generator().manual_seed(0)
    examples = []
    for n in (37, 5, 90, 12, 64):
        ids = torch.randint(3, model.config.vocab_size, (n,), generator=g).tolist()
        examples.append({"input_ids": ids, "labels": [-100] * 3 + ids[3:]})
    cuda = lambda b: {k: v.cuda() for k, v in b.items()}  # noqa: E731
    with torch.no_grad():
        one = sum(model_loss(model, cuda(collate([e], 0))) * count_targets(collate([e], 0)) for e in examples)
        n = sum(count_targets(collate([e], 0)) for e in examples)
        batch = cuda(collate(pack(examples, 128), 0))
        packed = float(LossModule(model, guard=False)(batch)) / count_targets(batch)
    assert packed == pytest.approx(one / n, rel=2e-2)  # bf16


def test_bf16_lora_run_on_cuda(tiny_llama, tmp_path):
    from train_helpers import write_sft_project

    from lmforge.cli import main

    exp = write_sft_project(tmp_path, tiny_llama)
    assert main(["train", str(exp), "train.precision=bf16", "train.packing=true"]) == 0
    assert (tmp_path / "run" / "final" / "adapter_model.safetensors").is_file()
