"""LoRA linear layers as one autograd node each: one saved copy of each input instead of three, the same
numbers.

peft computes `base(x) + B(A(dropout(x))) * scale` through four modules. Under autocast, autograd then
keeps, for every adapted layer, the compute-dtype copy of x that the base matmul read, the dropped x in
the adapter's dtype, and its compute-dtype copy that A read: three copies of the layer's input, and q, k
and v (gate and up) each keep their own copies of the same hidden states. `fuse_lora` gives those layers
a forward that keeps x itself (one tensor, shared by every layer reading it), the dropout's keep mask (a
byte per value) and A's rank-r output, and recomputes the dropped input in the backward. The base matmul's
cast of x is made once for the layers that share it. Every op is the one peft and autocast run, in the same
dtypes and order, so losses and gradients are the same (tests/training/test_fused_lora.py). On the built-in
model (2 rows of 512 tokens, bf16 autocast) the tensors kept for the backward go from 1,726 to 1,270 MB.
Layers it does not compute exactly (DoRA, GPT-2's Conv1D, torch's Dropout, several adapters) keep peft's.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import torch
import torch.nn.functional as F


class FastDropout(torch.nn.Module):
    """Dropout whose mask comes from 64-bit random integers cut into four 16-bit lanes, instead of
    `bernoulli_` (a quarter of a LoRA step of the built-in model on CPUs, profiled: 7 LoRA inputs per layer,
    each a fresh mask). torch's generator costs the same per element whatever the dtype, so one int64 per 4
    values is ~8x cheaper. p is rounded to a multiple of 1/32768, kept values scaled by 1 / (1 - that p).

    >>> FastDropout(0.05).p
    0.04998779296875
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.cut = round(p * 32768)
        self.p = self.cut / 32768
        # random_() on int64 is uniform on 0..2^63-1: three lanes uniform on the int16 range, and the lane
        # holding the top bits (the last on a little-endian machine) uniform on 0..32767
        full, top = -32768 + 2 * self.cut, self.cut
        lanes = [full, full, full, top] if sys.byteorder == "little" else [top, full, full, full]
        # a plain attribute, not a buffer: DDP would broadcast a buffer, and gloo has no int16
        self.limits = torch.tensor(lanes, dtype=torch.int16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.cut == 0:
            return x
        return x * self.scale(self.keep_mask(x), x.dtype)

    def keep_mask(self, x: torch.Tensor) -> torch.Tensor:
        """A bool tensor shaped like x: True where the value is kept."""
        if torch.compiler.is_compiling():  # random_ is a graph break; inductor fuses rand into the kernel
            return torch.rand(x.shape, device=x.device) >= self.p
        n = x.numel()
        words = torch.empty(-(-n // 4), dtype=torch.int64, device=x.device).random_()
        return (words.view(torch.int16).view(-1, 4) >= self.limits.to(x.device)).view(-1)[:n].view(x.shape)

    def scale(self, keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The multiplier of the kept values: 1 / (1 - p) where kept, 0 where dropped."""
        return keep.to(dtype).mul_(1.0 / (1.0 - self.p))


_cast_cache: list[Any] = [None]  # (x, its version, dtype, x in dtype): q, k and v read the same x in a row


def _cast(x: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    if dtype is None or x.dtype == dtype:
        return x
    if torch.compiler.is_compiling():  # a traced tensor's identity is no key; inductor shares the cast itself
        return x.to(dtype)
    hit = _cast_cache[0]
    if hit is not None and hit[0] is x and hit[1] == x._version and hit[2] == dtype:
        return hit[3]
    xc = x.to(dtype)
    _cast_cache[0] = (x, x._version, dtype, xc)
    return xc


def release_cast_cache() -> None:
    """Drop the last cast input: kept past its window it would hold a layer input alive into eval."""
    _cast_cache[0] = None


def _to(t: torch.Tensor | None, dtype: torch.dtype | None) -> torch.Tensor | None:
    return t if t is None or dtype is None else t.to(dtype)


class _LoraLinear(torch.autograd.Function):
    """y = x W^T + b + (drop(x) A^T) B^T * scale, with autocast's dtypes made explicit."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, a, b, drop: FastDropout | None, scale: float, dtype):  # type: ignore[override]
        with torch.autocast(x.device.type, enabled=False):
            y = F.linear(_cast(x, dtype), _to(weight, dtype), _to(bias, dtype))
            xa = x.to(a.dtype)  # peft casts the adapter's input to the adapter's dtype
            keep = drop.keep_mask(xa) if drop is not None else None
            dropped, _ = _dropped(xa, drop, keep)
            u = F.linear(_to(dropped, dtype), _to(a, dtype))
            out = y + F.linear(u, _to(b, dtype)) * scale
        ctx.save_for_backward(x, weight, a, b, keep, u)
        ctx.drop, ctx.scale, ctx.dtype = drop, scale, dtype
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):  # type: ignore[override]
        x, weight, a, b, keep, u = ctx.saved_tensors
        drop, dtype = ctx.drop, ctx.dtype
        grad_x = grad_a = grad_b = None
        with torch.autocast(x.device.type, enabled=False):
            gv = g * ctx.scale
            if ctx.needs_input_grad[4]:
                grad_b = _weight_grad(gv, u).to(b.dtype)
            gu = gv @ _to(b, dtype)
            dropped, mult = _dropped(x.to(a.dtype), drop, keep)  # the forward's, recomputed
            if ctx.needs_input_grad[3]:
                grad_a = _weight_grad(gu, _to(dropped, dtype)).to(a.dtype)
            if ctx.needs_input_grad[0]:
                gd = (gu @ _to(a, dtype)).to(a.dtype)
                g_adapter = gd * mult if mult is not None else gd
                grad_x = (g @ _to(weight, dtype)).to(x.dtype) + g_adapter.to(x.dtype)
        return grad_x, None, None, grad_a, grad_b, None, None, None


def _dropped(
    xa: torch.Tensor, drop: FastDropout | None, keep: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the adapter's input after dropout, the dropout's multiplier or None), as FastDropout computes them."""
    if drop is None:
        return xa, None
    mult = drop.scale(keep, xa.dtype)
    return xa * mult, mult


def _weight_grad(g: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
    """dL/dW of `inp @ W^T` for output gradient g: g^T inp over every leading position."""
    return g.reshape(-1, g.shape[-1]).t().mm(inp.reshape(-1, inp.shape[-1]))


def fusable(layer: torch.nn.Module) -> bool:
    """A peft LoRA linear layer this module computes exactly: one plain LoRA adapter (no DoRA, no adapter
    bias) on a frozen torch Linear, dropout FastDropout or none."""
    from peft.tuners.lora import Linear as LoraLinear

    if type(layer) is not LoraLinear or type(layer.base_layer) is not torch.nn.Linear:
        return False
    if layer.base_layer.weight.requires_grad or len(layer.lora_A) != 1 or layer.lora_variant:
        return False
    name = next(iter(layer.lora_A))
    drop = layer.lora_dropout[name]
    return layer.lora_B[name].bias is None and type(drop) in (FastDropout, torch.nn.Identity)


def _forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    name = next(iter(self.lora_A))
    if (
        args
        or kwargs
        or not torch.is_grad_enabled()
        or self.disable_adapters
        or self.merged
        or name not in self.active_adapters
    ):
        return type(self).forward(self, x, *args, **kwargs)  # peft's own
    drop = self.lora_dropout[name]
    active = isinstance(drop, FastDropout) and drop.training and drop.cut > 0
    dev = x.device.type
    dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else None
    base = self.base_layer
    return _LoraLinear.apply(
        x,
        base.weight,
        base.bias,
        self.lora_A[name].weight,
        self.lora_B[name].weight,
        drop if active else None,
        self.scaling[name],
        dtype,
    )


def fuse_lora(model: torch.nn.Module) -> int:
    """Give every fusable LoRA layer of `model` the one-node forward (an instance attribute, the way
    accelerate's hooks replace a forward; the class's forward stays peft's); returns how many. Not for
    DP-SGD (Opacus hooks the A and B modules) or FSDP (the saved weight would be a freed shard)."""
    n = 0
    for module in model.modules():
        if fusable(module):
            module.forward = types.MethodType(_forward, module)
            n += 1
    return n
