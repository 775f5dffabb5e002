"""Atomic checkpoints (temp folder, then rename; lmforge.atomic_files) and model folders (best/, final/).

checkpoints/step-N/ holds everything an exact resume needs:
  trainable.safetensors  the trained tensors (the adapter, or the whole model for a full fine-tune)
  optimizer.pt scheduler.pt rng.pt state.json (step, epoch, window, ...) config.yaml
  dp_secret.bin  train.privacy only: the run's secret DP randomness (owner-only; never copied to final/)
A folder named step-N is complete by construction: a killed write leaves only a .tmp-step-N folder.
The .pt files hold only tensors and plain containers and are read with `weights_only=True`: a shared run
folder cannot run code on resume (the RNG states are stored as tensors and lists for that reason).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from lmforge.atomic_files import atomic_dir, fault_point, recover_dir

_STEP = re.compile(r"^step-(\d+)$")
SECRET_FILE = "dp_secret.bin"


@dataclass
class TrainState:
    """Where the run is; saved in every checkpoint."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # current epoch
    window: int = 0  # optimizer steps done inside the current epoch (the sampler position)
    tokens: int = 0  # input tokens trained on
    best_val: float | None = None
    best_step: int | None = None
    bad_evals: int = 0  # evaluations since the best one (early stopping)
    # train.privacy: Opacus' accountant history [noise_multiplier, sample_rate, steps] (JSON, no pickle)
    privacy_history: list = field(default_factory=list)
    # train.compile: the step compiled layers started at (-1: `auto` chose eager), so a resume does the same
    compiled_from: int | None = None
    # train.privacy: the secret the draws and noise come from; its own file, kept out of state.json and repr
    dp_secret: bytes | None = field(default=None, repr=False)


def save_checkpoint(
    run_dir: Path,
    tensors: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    scheduler: Any,
    state: TrainState,
    config_yaml: str,
    keep: int,
    scaler: Any = None,
    rngs: list[dict] | None = None,
) -> Path:
    """Write checkpoints/step-N atomically and drop all but the last `keep`.

    `tensors` and `optimizer_state` come from `distributed.trainable_tensors` / `optimizer_state` (gathered
    when the model is sharded); `rngs` holds every process's RNG state, by rank (default: this process's).
    """

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / "trainable.safetensors"))
        fault_point("checkpoint:trainable.safetensors")
        torch.save(optimizer_state, tmp / "optimizer.pt")
        fault_point("checkpoint:optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        torch.save({"ranks": rngs or [rng_state()]}, tmp / "rng.pt")
        fault_point("checkpoint:rng.pt")
        fields = asdict(state)
        if (secret := fields.pop("dp_secret")) is not None:
            _write_secret(tmp / SECRET_FILE, secret)
        (tmp / "state.json").write_text(json.dumps(fields, indent=1), encoding="utf-8")
        (tmp / "config.yaml").write_text(config_yaml, encoding="utf-8")

    path = atomic_dir(run_dir / "checkpoints" / f"step-{state.step}", write, fault="checkpoint:swap")
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, scaler: Any = None, rank: int = 0
) -> TrainState:
    """Restore weights, optimizer, scheduler, this rank's RNG; return the saved TrainState."""
    from lmforge.training.distributed import load_optimizer_state, load_trainable

    load_trainable(model, load_file(str(path / "trainable.safetensors")))
    load_optimizer_state(model, optimizer, torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    if scaler is not None and (path / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
    ranks = torch.load(path / "rng.pt", weights_only=True)["ranks"]
    set_rng_state(ranks[rank % len(ranks)])  # a run resumed on more processes reuses states
    secret = (path / SECRET_FILE).read_bytes() if (path / SECRET_FILE).is_file() else None
    return TrainState(**json.loads((path / "state.json").read_text(encoding="utf-8")), dp_secret=secret)


def _write_secret(path: Path, secret: bytes) -> None:
    # created owner-only (0600) rather than chmod-ed after: no moment where others may read it
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a checkpoint a kill left mid-swap is put back first)."""
    folder = Path(run_dir) / "checkpoints"
    for leftover in folder.glob(".tmp-step-*"):
        recover_dir(folder / leftover.name.removeprefix(".tmp-"))
    for leftover in folder.glob(".old-step-*"):
        recover_dir(folder / leftover.name.removeprefix(".old-"))
    found = [(int(m.group(1)), p) for p in folder.glob("step-*") if (m := _STEP.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def rng_state() -> dict[str, Any]:
    """This process's RNG states as tensors and plain lists (loadable with `weights_only=True`)."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, torch.tensor(words, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, words, gauss = state["python"]
    random.setstate((version, tuple(int(w) for w in words.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_model_folder(
    target: Path,
    model: Any,
    tokenizer: Any,
    extra: dict[str, Any] | None = None,
    state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """A folder plain transformers (+ peft for an adapter) loads: weights, tokenizer with its chat template,
    generation config, and lmforge.json (`extra`). Written atomically. `state`: the gathered state dict of a
    sharded model (`distributed.full_state`); None reads the model's own."""
    from lmforge.formatting.templates import ensure_chat_template

    def write(tmp: Path) -> None:
        model.save_pretrained(
            tmp, safe_serialization=True, **({} if state is None else {"state_dict": state})
        )
        if extra is not None and (tmp / "adapter_config.json").is_file():
            _name_portable_base(tmp / "adapter_config.json", str(extra.get("base_model", "")))
        ensure_chat_template(tokenizer).save_pretrained(tmp)
        generation_config(model, tokenizer).save_pretrained(tmp)
        if extra is not None:
            (tmp / "lmforge.json").write_text(json.dumps(extra, indent=1, default=str), encoding="utf-8")

    return atomic_dir(Path(target), write, fault=f"{Path(target).name}:swap")


def _name_portable_base(adapter_config: Path, base: str) -> None:
    """peft writes the machine-local folder the base was loaded from; name the base as the user did."""
    from lmforge.models import portable_name

    if not base:
        return
    cfg = json.loads(adapter_config.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = portable_name(base)
    adapter_config.write_text(json.dumps(cfg, indent=2, sort_keys=True), encoding="utf-8")


def generation_config(model: Any, tokenizer: Any) -> Any:
    """The base model's generation config with EOS and pad set, so generations stop (trl #976)."""
    from transformers import GenerationConfig

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    gen = getattr(base, "generation_config", None) or GenerationConfig()
    if tokenizer.eos_token_id is not None:
        eos = gen.eos_token_id if gen.eos_token_id is not None else []
        eos = eos if isinstance(eos, list) else [eos]
        gen.eos_token_id = (
            sorted({*eos, tokenizer.eos_token_id})
            if len({*eos, tokenizer.eos_token_id}) > 1
            else tokenizer.eos_token_id
        )
    if gen.pad_token_id is None:
        from lmforge.models import pad_token_id

        gen.pad_token_id = pad_token_id(tokenizer)
    return gen
