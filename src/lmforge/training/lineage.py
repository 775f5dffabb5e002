"""What a run was made from, as SHA-256 hashes: `lineage` in final/lmforge.json, `lmforge verify`, eval's check.

`record(cfg)` is written at the start of training (before any step, so a file edited mid-run shows as
changed): the split files and rejects.jsonl of `data.output_dir`, the resolved config, the base model's
weight files, and the versions of lmforge, torch, transformers and peft. A chain run (`model.name: runs/sft`)
keeps its parents' adapter hashes in `chain` (training/chain.py); `verify` re-hashes all of it.

Hashes of large files are cached in `$LMFORGE_HOME/hashes.json` by (path, size, mtime), so the 135M
built-in model is hashed once, not on every run or eval; `verify` re-reads every byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from lmforge.errors import UserError

DATA_FILES = ("train.jsonl", "val.jsonl", "test.jsonl", "rejects.jsonl")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
PACKAGES = ("torch", "transformers", "peft")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_sha256(path: Path, fresh: bool = False) -> str:
    """sha256 of a file, looked up by (absolute path, size, mtime) in $LMFORGE_HOME/hashes.json.

    `fresh` reads the file whatever the cache says (and updates it). An unwritable cache is skipped.
    """
    from lmforge.models import lmforge_home

    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = lmforge_home() / "hashes.json"
    cache = _read_cache(cache_file)
    if not fresh and key in cache:
        return cache[key]
    digest = file_sha256(path)
    cache = {k: v for k, v in cache.items() if not k.startswith(f"{path}|")}  # this file's older versions
    cache[key] = digest
    try:  # a temp file per process, renamed over: concurrent writers never leave half a file
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".tmp-{os.getpid()}-{cache_file.name}")
        tmp.write_text(json.dumps(cache, indent=0), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        pass
    return digest


def _read_cache(cache_file: Path) -> dict[str, str]:
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _files(paths: list[Path], fresh: bool = False) -> dict[str, dict[str, Any]]:
    return {p.name: {"sha256": cached_sha256(p, fresh), "bytes": p.stat().st_size} for p in paths}


def config_sha256(config: dict[str, Any]) -> str:
    """sha256 of the resolved config as canonical JSON (sorted keys), the same from config.yaml or lmforge.json.

    >>> config_sha256({"seed": 42})[:12]
    '2a6d2033c7eb'
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def base_files(cfg: Any) -> tuple[str, list[Path]]:
    """(the folder `model.name` loads from, its weight files); a hub id not downloaded has none."""
    from lmforge.models import resolve_model

    where = resolve_model(cfg.model.name, cfg.model.trust_remote_code)
    folder = Path(where)
    if not folder.is_dir():
        return where, []
    return str(folder.resolve()), sorted({p for pat in WEIGHT_PATTERNS for p in folder.glob(pat)})


def versions() -> dict[str, str | None]:
    from lmforge.version import __version__

    found: dict[str, str | None] = {"lmforge": __version__}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def record(cfg: Any, data_from_disk: bool = True) -> dict[str, Any]:
    """The `lineage` block of lmforge.json. `data_from_disk=False`: examples given in memory, no data files.

    >>> record(cfg)["data"]["files"]["train.jsonl"]  # doctest: +SKIP
    {'sha256': '9c1e...', 'bytes': 5120}
    """
    data = Path(cfg.data.output_dir)
    files = [data / name for name in DATA_FILES if (data / name).is_file()]
    where, weights = base_files(cfg)
    return {
        "data": {"dir": str(data.resolve()), "files": _files(files)} if data_from_disk else None,
        "config_sha256": config_sha256(cfg.to_dict()),
        "base": {"name": cfg.model.name, "path": where, "files": _files(weights)},
        "versions": versions(),
    }


def run_metadata(run: str | Path) -> tuple[Path, dict[str, Any]]:
    """(the model folder, its lmforge.json) of a run folder, or of a final/ or best/ folder given directly."""
    from lmforge.atomic_files import recover_dir

    path = Path(run).expanduser()
    if path.is_dir():
        recover_dir(path / "final", clean=False)  # a run killed inside the swap of final/ left it aside
    folder = path / "final" if (path / "final" / "lmforge.json").is_file() else path
    meta_file = folder / "lmforge.json"
    if not meta_file.is_file():
        raise UserError(f"{path} is not a run folder: no final/lmforge.json in it")
    return folder, json.loads(meta_file.read_text(encoding="utf-8"))


def _changed(what: str, recorded: str | None, now: str | None) -> str | None:
    if recorded == now or recorded is None:
        return None
    if now is None:
        return f"{what} missing"
    return f"{what} changed (sha256 recorded {recorded[:12]}… now {now[:12]}…)"


def _compare(label: str, recorded: dict[str, Any], now: dict[str, str | None]) -> list[str]:
    """One line per file whose hash in `now` (None: missing) is not the recorded one."""
    problems = [
        _changed(f"{label}{name}", rec.get("sha256"), now.get(name)) for name, rec in recorded.items()
    ]
    problems += [f"{label}{name} added" for name in now if name not in recorded and now[name]]
    return [p for p in problems if p]


def _hashes(folder: Path, names: list[str], fresh: bool) -> dict[str, str | None]:
    return {n: cached_sha256(folder / n, fresh) if (folder / n).is_file() else None for n in names}


def chain_problems(meta: dict[str, Any], fresh: bool = False) -> tuple[list[str], int]:
    """Every parent adapter of a chain (SFT -> DPO -> ...) against its recorded hash; and how many were read."""
    problems, n, chain = [], 0, meta.get("chain")
    while chain:  # each run started from, back to the pretrained model
        weights = Path(chain["adapter"]) / "adapter_model.safetensors"
        now = cached_sha256(weights, fresh) if weights.is_file() else None
        problem = _changed(f"parent adapter {weights}", chain.get("adapter_sha256"), now)
        problems += [problem] if problem else []
        n, chain = n + 1, chain.get("chain")
    return problems, n


def verify(run: str | Path) -> tuple[list[str], str]:
    """Re-hash every file the run's lineage names; returns (one line per changed or missing file, summary).

    >>> verify("runs/demo")  # doctest: +SKIP
    ([], 'verified: 6 files, base smollm2-135m-instruct')
    """
    folder, meta = run_metadata(run)
    lineage = meta.get("lineage")
    if not lineage:
        raise UserError(f"{folder / 'lmforge.json'} records no lineage (trained before lmforge kept one)")
    base = lineage["base"]
    now = _hashes(Path(base["path"]), list(base["files"]), fresh=True)
    problems = _compare(f"base {base['name']} ", base["files"], now)
    found, n = chain_problems(meta, fresh=True)
    problems, n = problems + found, n + len(now)
    data = lineage.get("data")
    if data:
        now = _hashes(Path(data["dir"]), list(data["files"]), fresh=True)
        problems, n = problems + _compare("", data["files"], now), n + len(now)
    problems += _config_problems(folder, meta, lineage["config_sha256"])
    return problems, f"verified: {n + 1} files, base {base['name']}"


def _config_problems(folder: Path, meta: dict[str, Any], recorded: str) -> list[str]:
    """The config kept in lmforge.json, and the run's config.yaml beside it, against the recorded hash."""
    import yaml

    problems = [_changed("config (in lmforge.json)", recorded, config_sha256(meta.get("config") or {}))]
    config_yaml = folder.parent / "config.yaml"
    if config_yaml.is_file():
        saved = yaml.safe_load(config_yaml.read_text(encoding="utf-8")) or {}
        problems.append(_changed(config_yaml.name, recorded, config_sha256(saved)))
    return [p for p in problems if p]


def check_base(cfg: Any, tuned: Path) -> None:
    """Refuse (UserError) an eval whose base (`model.name`, as eval loads it) has other weights than the ones
    the fine-tuned model recorded training from, or whose chain parents changed since."""
    try:
        _, meta = run_metadata(tuned)
    except UserError:
        return  # a model folder lmforge did not train: nothing recorded to hold it to
    recorded = (meta.get("lineage") or {}).get("base")
    if not recorded:
        return
    folder, weights = base_files(cfg)
    now = _hashes(Path(folder), [p.name for p in weights], fresh=False)
    problems = _compare(f"base {cfg.model.name} ", recorded["files"], now)
    problems += chain_problems(meta)[0]
    if problems:
        raise UserError(
            f"refusing to compare {tuned} with a base it was not trained from: {'; '.join(problems)}"
        )
