"""Sources -> files -> shards. A shard is the unit of parallel work and of resume.

Shards depend only on the input files (never on the worker count), so ids, order and splits are the
same on any machine. Large uncompressed line files are cut at line boundaries every SHARD_BYTES;
parquet is cut by row group; everything else is one shard per file.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lmforge.data.decompress import damage, open_compressed
from lmforge.errors import UserError

SHARD_BYTES = 8 << 20  # 8 MiB of raw text per shard: enough batches to amortise, small enough to balance
COMPRESSION = (".gz", ".bz2", ".xz", ".zst")
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}
LINE_FORMATS = ("jsonl",)  # formats that may be cut by byte range (txt too when unit is line)


@dataclass(frozen=True)
class Shard:
    source: int  # index in data.sources
    path: str  # absolute path
    rel: str  # path shown in ids: relative to the YAML folder when inside it
    fmt: str
    compression: str  # "" or ".gz", ...
    start: int = 0  # byte offset, or row group / arrow file index
    end: int = -1  # byte offset (exclusive); -1 = end of file
    first_line: int = 1  # line number of the first line at `start`

    @property
    def key(self) -> str:
        return f"{self.source}:{self.rel}:{self.start}"


def split_ext(path: str) -> tuple[str, str]:
    """`a/b.jsonl.gz` -> (".jsonl", ".gz")."""
    p = Path(path.lower())
    comp = p.suffix if p.suffix in COMPRESSION else ""
    inner = Path(p.stem).suffix if comp else p.suffix
    return inner, comp


def expand(pattern: Path) -> list[str]:
    """A file, a folder (recursive, known extensions, hidden files skipped) or a glob -> sorted files."""
    s = str(pattern)
    if pattern.is_dir():
        if is_hf_folder(pattern):
            return [s]
        files = [str(p) for p in pattern.rglob("*") if p.is_file() and not _hidden(p.relative_to(pattern))]
        return sorted(f for f in files if split_ext(f)[0] in FORMATS)
    if pattern.is_file():
        return [s]
    if glob.has_magic(s):
        return sorted(f for f in glob.glob(s, recursive=True) if os.path.isfile(f) or is_hf_folder(Path(f)))
    return []


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def is_hf_folder(p: Path) -> bool:
    """A `datasets.save_to_disk` folder: a Dataset (state.json) or a DatasetDict (dataset_dict.json)."""
    return (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()


def detect_format(path: str, declared: str) -> str:
    if declared != "auto":
        return declared
    if os.path.isdir(path):
        return "hf"
    inner, _ = split_ext(path)
    if inner not in FORMATS:
        raise UserError(f"cannot tell the format of {path}; set format: in data.sources")
    return FORMATS[inner]


def open_bytes(path: str, compression: str) -> IO[bytes]:
    """A binary stream, decompressed on the fly; a compressed file cut short or damaged ends there
    (`lmforge.data.decompress.damage(f)` says why) instead of raising."""
    return open_compressed(path, compression) if compression else open(path, "rb")


@contextmanager
def seekable(path: str, compression: str) -> Iterator[tuple[str | IO[bytes], str | None]]:
    """(a path or file that can seek, why its decompression stopped early or None): Parquet needs to seek,
    so a compressed file is decompressed into a temporary file in blocks, never into memory whole."""
    if not compression:
        yield path, None
        return
    with tempfile.TemporaryFile() as tmp, open_compressed(path, compression, text=False) as f:
        shutil.copyfileobj(f, tmp, 1 << 20)
        tmp.seek(0)
        yield tmp, damage(f)


def hf_arrow_files(folder: Path) -> list[tuple[str, str]]:
    """(split name, arrow file) of a save_to_disk folder, in a stable order."""
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
        return [(s, f) for s in splits for _, f in hf_arrow_files(_inside(folder, s))]
    state = json.loads((folder / "state.json").read_text())
    return [("", str(_inside(folder, d["filename"]))) for d in state.get("_data_files", [])]


def _inside(folder: Path, name: str) -> Path:
    """A file named by a state file, refused unless it is inside that folder (no `../` or absolute paths)."""
    path = (folder / str(name)).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise UserError(f"{folder}: its state file names '{name}', outside the folder: refused")
    return path


def plan_shards(source_index: int, path: str, rel: str, fmt: str, unit: str) -> list[Shard]:
    """Cut one file into shards. Line files are cut at newlines, counting lines so ids stay `path:line`."""
    _, comp = split_ext(path)
    if fmt == "hf":
        return [Shard(source_index, path, rel, fmt, "", i) for i in range(len(hf_arrow_files(Path(path))))]
    if fmt == "parquet" and not comp:
        import pyarrow.parquet as pq

        try:
            n = pq.ParquetFile(path).num_row_groups
        except Exception:  # cut off or corrupt: one shard, which the reader turns into a reject
            n = 1
        return [Shard(source_index, path, rel, fmt, comp, i) for i in range(max(n, 1))]
    cuttable = fmt in LINE_FORMATS or (fmt in ("txt", "md") and unit == "line")
    size = os.path.getsize(path)
    if comp or not cuttable or size <= SHARD_BYTES:
        return [Shard(source_index, path, rel, fmt, comp)]
    shards, start, line = [], 0, 1
    with open(path, "rb") as f:
        while start < size:
            f.seek(start + SHARD_BYTES)
            f.readline()  # move to the next line boundary
            end = min(f.tell(), size)
            shards.append(Shard(source_index, path, rel, fmt, comp, start, end, line))
            f.seek(start)
            line += _count_newlines(f, end - start)
            start = end
    return shards


def _count_newlines(f: IO[bytes], n: int) -> int:
    count = 0
    while n > 0:
        block = f.read(min(n, 1 << 22))
        if not block:
            break
        count += block.count(b"\n")
        n -= len(block)
    return count
