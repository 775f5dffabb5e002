"""Starting a run from another run's LoRA adapter (`model.name: runs/sft`), the SFT -> DPO recipe.

`model.from_adapter` says what the adapter becomes:
- `merge` (default): the adapter is merged into its base (peft's merge_and_unload, in `models.load_model`)
  and a fresh adapter (or, with `model.lora: null`, every weight) is trained on the merged weights. The new
  adapter names the SFT run as its base, so loading it merges the SFT adapter first. With LoRA the DPO
  reference is the merged model with the new adapter disabled: the SFT model, as DPO wants.
- `continue`: the SFT adapter itself keeps training (its own r, alpha, targets). The reference of a
  preference objective is the model as loaded, its log-probs computed once before the first step
  (`needs_cached_reference`): the adapter disabled would be the SFT run's base, not the SFT model.

`chain_record` is what final/lmforge.json keeps of the lineage: the run started from, its adapter's sha256,
the mode, and the chain that run itself came from (so an SFT -> DPO -> DPO run names every step back to the
pretrained model).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lmforge.errors import UserError


def start_adapter(cfg: Any) -> tuple[str, str] | None:
    """(base model, adapter folder) when `model.name` is a LoRA run or adapter folder, else None.

    >>> start_adapter(load_config(None, ["model.name=runs/sft"]))  # doctest: +SKIP
    ('HuggingFaceTB/SmolLM2-135M-Instruct', 'runs/sft/final')
    """
    from lmforge.models import resolve_peft_adapter

    path = Path(cfg.model.name).expanduser()
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    return resolve_peft_adapter(cfg.model.name)


def continues(cfg: Any) -> bool:
    """True when this run keeps training the adapter of `model.name` (`model.from_adapter: continue`)."""
    return cfg.model.from_adapter == "continue" and start_adapter(cfg) is not None


def check_start(cfg: Any) -> None:
    """The combinations that cannot work, in one line each, before any model loads."""
    if start_adapter(cfg) is None:
        return
    if cfg.model.quantize is not None:
        raise UserError(
            f"model.quantize with model.name {cfg.model.name} (a LoRA adapter): merging into quantized "
            f"weights is lossy; export the run merged (lmforge export {cfg.model.name} --out DIR --merge) "
            "and set model.name to DIR"
        )
    if cfg.model.from_adapter == "continue" and cfg.model.lora is None:
        raise UserError(
            "model.from_adapter: continue trains the adapter of model.name; model.lora must not be null "
            "(or use from_adapter: merge for a full fine-tune of the merged weights)"
        )
    if cfg.model.from_adapter == "continue" and cfg.train.objective == "kto":
        raise UserError(
            "train.objective: kto with model.from_adapter: continue: KTO's reference is the model under a "
            "disabled adapter; use from_adapter: merge (the default)"
        )


def continue_adapter(model: Any, adapter_dir: str) -> Any:
    """The base `model` with the adapter of `adapter_dir` loaded trainable (peft `is_trainable=True`)."""
    import warnings

    from peft import PeftModel

    with warnings.catch_warnings():  # peft reads a transformers attribute deprecated in 5.x
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)


def saved_base(cfg: Any) -> str:
    """What the run's saved adapter names as its base: the start run under merge (loading merges it
    first), the start adapter's own base under continue (the adapter replaces it), else `model.name`."""
    start = start_adapter(cfg)
    if start is not None and cfg.model.from_adapter == "continue":
        return start[0]
    return cfg.model.name


def chain_record(cfg: Any) -> dict[str, Any] | None:
    """The lineage for lmforge.json: None for a run from a pretrained model.

    >>> chain_record(cfg)  # model.name: runs/sft  # doctest: +SKIP
    {'run': '/work/runs/sft', 'adapter': '/work/runs/sft/final', 'base_model': 'HuggingFaceTB/...',
     'from_adapter': 'merge', 'adapter_sha256': '3f2a...', 'objective': 'sft', 'chain': None}
    """
    start = start_adapter(cfg)
    if start is None:
        return None
    base, adapter = start
    meta_file = Path(adapter) / "lmforge.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    return {
        "run": str(Path(cfg.model.name).expanduser().resolve()),
        "adapter": str(Path(adapter).resolve()),
        "base_model": base,
        "from_adapter": cfg.model.from_adapter,
        "adapter_sha256": _weights_sha256(Path(adapter)),
        "objective": (meta.get("config") or {}).get("train", {}).get("objective"),
        "chain": meta.get("chain"),  # where that run started from
    }


def _weights_sha256(adapter: Path) -> str | None:
    """sha256 of the adapter's weights: a later retrain of the start run shows as a different hash."""
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        return None
    h = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
