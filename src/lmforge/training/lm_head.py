"""The LM head at chosen positions: one path for the SFT loss, the preference log-probs, DP's per-record
losses and eval, behind one guard.

Every objective runs the backbone, picks the hidden states of the positions it scores (label positions,
answers, eval's scored tokens) and applies the head there only, never at prompt or padding positions.
Some models transform the head's logits in their forward, and a head applied without it trains on other
logits without a word (Granite with `logits_scaling: 8` would train on logits x 8):

- Granite (and GraniteMoE, hybrid): logits / `logits_scaling`
- Cohere, Cohere2: logits x `logit_scale`; Falcon-H1: logits x `lm_head_multiplier`
- Gemma 2/3: `final_logit_softcapping` c: c tanh(logits / c)

`LMHead` applies them (chunked for a linear head, head_ce.py). A transform missing from this list is
what the guard is for: the first time a model's head is split, the head path's log-probs on one short
row are compared with the model's own `logits`; a mismatch is said in one line and every objective then
uses the model's full logits for that model.

>>> backbone, head = split_head(model)  # doctest: +SKIP
>>> head.logps(backbone(input_ids=ids).last_hidden_state[0, :-1], ids[0, 1:])  # doctest: +SKIP
tensor([-10.2, -9.8, ...])
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lmforge.training.head_ce import PLAIN, Transform, head_ce_sum, head_logps, transformed

GUARD_TOKENS = 32  # tokens of the synthetic row the guard compares on
GUARD_RTOL = 2e-3  # bf16 weights round the two paths' matmuls differently; a wrong transform is far off
_VERDICTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # base model -> the guard agreed


@dataclass(frozen=True)
class LMHead:
    """A model's output embedding with the transform its forward applies after it."""

    module: torch.nn.Module
    transform: Transform = PLAIN

    @property
    def weight(self) -> torch.Tensor:
        return self.module.weight

    def parameters(self) -> Any:
        return self.module.parameters()

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, H) -> (N, V) fp32 logits, transformed as the model's forward does."""
        return transformed(self.module(hidden).float(), self.transform)

    def logps(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(N,) fp32 log-probs of the targets: chunked for a frozen linear head (LoRA); a trained head
        gets per-token gradients only through (N, V) logits."""
        frozen = not any(p.requires_grad for p in self.module.parameters())
        if type(self.module) is torch.nn.Linear and frozen:
            return head_logps(hidden, self.module.weight, self.module.bias, targets, self.transform)
        return -F.cross_entropy(self(hidden), targets, reduction="none")

    def ce_sum(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed CE (0-d fp32), chunked for any linear head, trained or not."""
        if type(self.module) is torch.nn.Linear:
            return head_ce_sum(hidden, self.module.weight, self.module.bias, targets, self.transform)
        return F.cross_entropy(self(hidden), targets, reduction="sum")


def head_transform(config: Any) -> Transform:
    """(scale, softcap) of a model's logits after its head, from its config.

    >>> head_transform(types.SimpleNamespace(logits_scaling=8.0))  # doctest: +SKIP
    (0.125, None)
    """
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    scale = 1.0
    if getattr(text, "logits_scaling", None):  # Granite divides
        scale /= text.logits_scaling
    for name in ("logit_scale", "lm_head_multiplier"):  # Cohere, Falcon-H1 multiply
        if getattr(text, name, None):
            scale *= getattr(text, name)
    return scale, getattr(text, "final_logit_softcapping", None) or None


def split_head(model: Any, guard: bool = True) -> tuple[Any, LMHead | None]:
    """(backbone, LMHead) of a causal LM, through a peft wrapper; (None, None) when not separable or when
    the guard found the head path differs from the model's own logits (callers then use those)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    module = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    backbone = getattr(base, getattr(base, "base_model_prefix", ""), None)
    if config is None or module is None or backbone is None or backbone is base:
        return None, None
    head = LMHead(module, head_transform(config))
    if guard and base not in _VERDICTS:
        _VERDICTS[base] = head_agrees(model, backbone, head)
    return (backbone, head) if not guard or _VERDICTS[base] else (None, None)


def head_agrees(model: Any, backbone: Any, head: LMHead) -> bool:
    """The guard: on one seeded random row, the head path's log-probs equal log_softmax(model(...).logits).

    Eval mode (no dropout: both paths see one network), autocast only where the weights' dtypes mix, and a forked RNG: the check draws
    nothing from the run's random streams, so a resumed run stays bit-equal to an uninterrupted one.
    """
    device = next(model.parameters()).device
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    vocab = getattr(base.config.get_text_config(), "vocab_size", None) or head.weight.shape[0]
    ids = torch.randint(vocab, (1, GUARD_TOKENS), generator=torch.Generator().manual_seed(0)).to(device)
    modes = [(m, m.training) for m in model.modules()]  # each module's own: a loaded model's are mixed
    # a 16-bit frozen base under fp32 LoRA weights needs autocast to multiply at all; 16-bit rounding
    # moves the two paths apart by ~1e-3 of a log-prob, a missing transform by far more
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    low = next((d for d in (torch.bfloat16, torch.float16) if d in dtypes), None)
    mixed = low is not None and len(dtypes) > 1
    rtol = GUARD_RTOL * (10 if low is not None else 1)
    amp = torch.autocast(device.type, dtype=low or torch.bfloat16, enabled=mixed)
    with torch.random.fork_rng(devices=[]), torch.no_grad(), amp:
        model.eval()
        try:
            ours = head.logps(backbone(input_ids=ids, use_cache=False).last_hidden_state[0, :-1], ids[0, 1:])
            logits = model(input_ids=ids, use_cache=False).logits[0, :-1].float()  # (T-1, V)
            ref = torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None]).squeeze(1)
        finally:
            for m, mode in modes:
                m.training = mode
    gap, size = float((ours - ref).abs().mean()), float(ref.abs().mean())
    if gap <= rtol * max(size, 1e-6):
        return True
    print(
        f"lmforge: the LM head applied at label positions differs from the model's own logits (mean log-prob "
        f"gap {gap:.4f} of {size:.4f}): an output transform lmforge does not know; every objective uses the "
        "model's full logits instead",
        file=sys.stderr,
    )
    return False
