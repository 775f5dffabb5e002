"""`train.distributed: fsdp`: torch's fully_shard (FSDP2) on every decoder layer and on the loss module, and
the gathered (full) state that checkpoints and model folders need.

Why not Accelerate's FSDP plugin: Accelerate enables FSDP only on GPUs, while this path must also run on CPU
processes (gloo) so that it is tested. torch's `fully_shard` is what Accelerate's FSDP2 and torchtune call
underneath. DDP needs nothing from here: Accelerate wraps the model.

The loss module is the FSDP root, so the root's parameters (embeddings, final norm, LM head) are gathered
for the whole of `loss_sum`, which calls the backbone and the head separately.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from lmforge.errors import UserError


def use_fsdp(cfg: Any, accelerator: Any) -> bool:
    """FSDP only means something with several processes; one process trains unsharded."""
    return cfg.train.distributed == "fsdp" and accelerator.num_processes > 1


def shard(loss_module: torch.nn.Module, model: Any, device: Any) -> torch.nn.Module:
    """Shard each decoder layer of `model` (the classes transformers marks `_no_split_modules`), then the
    loss module around it. Parameters become DTensors in place: build the optimizer afterwards."""
    from torch.distributed.fsdp import fully_shard

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(getattr(base, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise UserError(
            f"train.distributed: fsdp: {type(base).__name__} names no layer class to shard "
            "(_no_split_modules); use train.distributed: ddp"
        )
    loss_module.to(device)
    for layer in layers:
        fully_shard(layer)
    fully_shard(loss_module)
    return loss_module


def is_sharded(model: torch.nn.Module) -> bool:
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


@contextmanager
def no_sync(accelerator: Any, wrapped: Any) -> Iterator[None]:
    """Skip the gradient reduction for all but the last micro-batch of a window (DDP or FSDP)."""
    if hasattr(wrapped, "set_requires_gradient_sync"):  # an FSDP2 module
        wrapped.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            wrapped.set_requires_gradient_sync(True)
    else:
        with accelerator.no_sync(wrapped):
            yield


def _options(**kw: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kw)


def full_state(model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """The whole state dict on CPU, gathered on the main process (empty on the others); None when the model
    is not sharded (read it directly). A collective call: every process must make it."""
    if not is_sharded(model):
        return None
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_options(cpu_offload=True))


def trainable_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The tensors training changes, by parameter name (shared tensors once), on CPU. Collective."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    state = full_state(model)
    if state is None:
        params = dict(model.named_parameters())
        return {n: params[n].detach().cpu().contiguous() for n in names}
    return {n: state[n].contiguous() for n in names if n in state}


def load_trainable(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy saved tensors into the model's parameters (every process reads the full file)."""
    if is_sharded(model):
        from torch.distributed.checkpoint.state_dict import set_model_state_dict

        set_model_state_dict(model, tensors, options=_options(strict=False))
        return
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value)


def optimizer_state(model: torch.nn.Module, optimizer: Any) -> dict[str, Any]:
    """The optimizer's state; for a sharded model gathered and keyed by parameter name. Collective."""
    if not is_sharded(model):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, _inner(optimizer), options=_options(cpu_offload=True))


def load_optimizer_state(model: torch.nn.Module, optimizer: Any, state: dict[str, Any]) -> None:
    """Restore what `optimizer_state` returned; each process takes its own shard."""
    if not is_sharded(model):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    set_optimizer_state_dict(model, _inner(optimizer), state, options=_options())


def _inner(optimizer: Any) -> Any:
    """The torch optimizer inside Accelerate's wrapper."""
    return getattr(optimizer, "optimizer", optimizer)
