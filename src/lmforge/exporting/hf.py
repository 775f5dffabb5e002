"""`lmforge export RUN_DIR --out DIR [--merge] [--format hf|gguf]`: a model that loads anywhere, with checksums.

Without --merge the run's final/ is copied as is (a LoRA adapter stays an adapter, loadable with peft).
With --merge the adapter is folded into the base weights (peft's merge_and_unload), so plain
`AutoModelForCausalLM.from_pretrained(DIR)` loads it. `--format gguf` always merges, then writes
DIR/model.gguf + DIR/Modelfile (gguf.py). All write SHA256SUMS (`sha256sum -c SHA256SUMS`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from lmforge.errors import UserError

CHECKSUMS = "SHA256SUMS"
FORMATS = ("hf", "gguf")


def export(
    run_dir: str | Path, out: str | Path, merge: bool = False, format: str = "hf", quant: str | None = None
) -> Path:
    """Write the run's final model to `out`; returns the folder.

    >>> export("runs/support-bot", "exported/support-bot", merge=True)  # doctest: +SKIP
    PosixPath('exported/support-bot')
    >>> export("runs/support-bot", "exported/support-bot-gguf", format="gguf", quant="q8_0")  # doctest: +SKIP
    PosixPath('exported/support-bot-gguf')
    """
    from lmforge.atomic_files import atomic_dir

    if format not in FORMATS:
        raise UserError(f"--format {format}: expected one of {', '.join(FORMATS)}")
    if quant is not None and format != "gguf":
        raise UserError("--quant applies to --format gguf only")
    if format == "gguf":
        from lmforge.exporting.gguf import QUANTS

        if (quant or "f16") not in QUANTS:
            raise UserError(f"--quant {quant}: expected one of {', '.join(QUANTS)}")
    src, target = model_dir(Path(run_dir)), Path(out)
    if target.exists() and any(target.iterdir()):
        raise UserError(f"--out {target} exists and is not empty; choose a new folder")
    adapter = (src / "adapter_config.json").is_file()

    def write(tmp: Path) -> None:
        if format == "gguf":
            _write_gguf(src, tmp, adapter, quant or "f16")
        elif merge and adapter:
            write_merged(src, tmp)
        else:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
        write_checksums(tmp)

    if target.exists():
        target.rmdir()
    return atomic_dir(target, write)


def model_dir(run_dir: Path) -> Path:
    """A run folder stands for its final/ model; a model folder stands for itself."""
    for candidate in (run_dir / "final", run_dir):
        if (candidate / "adapter_config.json").is_file() or (candidate / "config.json").is_file():
            return candidate
    raise UserError(f"{run_dir} holds no model (expected final/ with config.json or adapter_config.json)")


def merged_model(adapter_dir: Path) -> Any:
    """Base model + LoRA adapter, merged into plain weights."""
    from peft import PeftModel

    from lmforge.models import load_model

    meta = _metadata(adapter_dir)
    base = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))[
        "base_model_name_or_path"
    ]
    head = meta.get("head", "lm")
    model = load_model(base, head=head, num_labels=len(meta.get("labels") or []) or 2)
    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()


def _write_gguf(src: Path, tmp: Path, adapter: bool, quant: str) -> None:
    """GGUF needs full weights: an adapter is merged into a scratch folder first (deleted after)."""
    import tempfile

    from lmforge.exporting.gguf import write_gguf

    name = src.parent.name if src.name in ("final", "best") else src.name  # the run's name
    with tempfile.TemporaryDirectory(prefix=".merge-", dir=tmp.parent) as scratch:
        if adapter:
            write_merged(src, Path(scratch))
        write_gguf(Path(scratch) if adapter else src, tmp, quant, name=name)


def write_merged(src: Path, tmp: Path) -> None:
    """Save base + adapter merged (full safetensors, tokenizer, generation config, lmforge.json) in tmp."""
    from transformers import AutoTokenizer, GenerationConfig

    model = merged_model(src)
    model.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(tmp)
    if (src / "generation_config.json").is_file():
        GenerationConfig.from_pretrained(str(src)).save_pretrained(tmp)
    meta = _metadata(src)
    if meta:
        (tmp / "lmforge.json").write_text(json.dumps({**meta, "merged": True}, indent=1), encoding="utf-8")


def _metadata(folder: Path) -> dict[str, Any]:
    path = folder / "lmforge.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_checksums(folder: Path) -> Path:
    """SHA256SUMS in `sha256sum` format: '<hex>  <relative path>' per file."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS):
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        lines.append(f"{h.hexdigest()}  {path.relative_to(folder).as_posix()}\n")
    (folder / CHECKSUMS).write_text("".join(lines), encoding="utf-8")
    return folder / CHECKSUMS
