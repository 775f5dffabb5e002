"""Readers, one per format family: a shard -> items `(id, row | None, reject reason | None, raw, repaired)`.

A row is the source's own fields as a dict; field mapping happens later (record.to_record).
Lines are numbered from 1 (`a.jsonl:3`), rows from 0 (`a.parquet:0`, `a.csv:0`).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from lmforge.data.decode import BadEncoding, decode, repair_value
from lmforge.data.decompress import damage
from lmforge.data.json_stream import read_json
from lmforge.data.sources import Shard, hf_arrow_files, open_bytes, seekable

Item = tuple[str, "dict[str, Any] | None", "str | None", Any, bool]
RAW_LIMIT = 100_000  # characters of an unparsable line kept in rejects.jsonl
PARQUET_BATCH = 1024  # rows converted to Python at a time: a row group may hold millions
csv.field_size_limit(sys.maxsize)


def read_shard(shard: Shard, unit: str, policy: str) -> Iterator[Item]:
    """Dispatch on the format family."""
    fmt = shard.fmt
    if fmt == "jsonl":
        yield from _jsonl(shard, policy)
    elif fmt == "json":
        yield from _json(shard, policy)
    elif fmt in ("csv", "tsv"):
        yield from _csv(shard, policy, "\t" if fmt == "tsv" else ",")
    elif fmt == "parquet":
        yield from _parquet(shard, policy)
    elif fmt == "hf":
        yield from _hf(shard, policy)
    else:  # txt, md, html
        yield from _text(shard, unit, policy)


def _empty(shard: Shard) -> Item:
    return (shard.rel, None, "empty file", "", False)


def _cut(shard: Shard, reason: str) -> Item:
    """The reject that names a compressed file cut off or damaged (`decompress.damage`)."""
    return (shard.rel, None, reason, "", False)


def _lines(shard: Shard) -> Iterator[tuple[int, bytes | str]]:
    """(line number, bytes) of the shard's lines, then (n, reason) once if a compressed file was cut
    off or damaged: the lines before the damage are read, the rest of the file is that one reject."""
    with open_bytes(shard.path, shard.compression) as f:
        if shard.start:
            f.seek(shard.start)
        left = shard.end - shard.start if shard.end >= 0 else -1
        n = shard.first_line
        for n, raw in enumerate(f, shard.first_line):
            yield n, raw
            if left >= 0:
                left -= len(raw)
                if left <= 0:
                    return
        if problem := damage(f):
            yield n, problem


def _jsonl(shard: Shard, policy: str) -> Iterator[Item]:
    seen = False
    for n, raw in _lines(shard):
        seen = True
        if isinstance(raw, str):
            yield _cut(shard, raw)
            continue
        if not raw.strip():
            continue  # blank lines are not records
        rid = f"{shard.rel}:{n}"
        try:
            text, repaired = decode(raw, policy)
        except BadEncoding as e:
            yield rid, None, str(e), raw.decode("utf-8", "replace")[:RAW_LIMIT], False
            continue
        try:
            row = json.loads(text)
        except ValueError as e:
            yield rid, None, f"malformed JSON ({e.msg} at column {e.colno})", text[:RAW_LIMIT], repaired
            continue
        if not isinstance(row, dict):
            yield rid, None, f"JSON line is a {type(row).__name__}, not an object", text[:RAW_LIMIT], repaired
            continue
        yield rid, row, None, None, repaired
    if not seen and shard.start == 0:
        yield _empty(shard)


def _fixed(rid: str, row: Any, policy: str) -> Item:
    try:
        row, repaired = repair_value(row, policy)
    except BadEncoding as e:
        return rid, None, str(e), json.dumps(row, ensure_ascii=False, default=str)[:RAW_LIMIT], False
    if not isinstance(row, dict):
        return rid, None, f"JSON element is a {type(row).__name__}, not an object", row, repaired
    return rid, row, None, None, repaired


def _json(shard: Shard, policy: str) -> Iterator[Item]:
    for rid, value, reason, raw in read_json(shard):
        if reason is None:
            yield _fixed(rid, value, policy)
        else:
            yield rid, None, reason, raw[:RAW_LIMIT], False


def _csv(shard: Shard, policy: str, delimiter: str) -> Iterator[Item]:
    with open_bytes(shard.path, shard.compression) as f:
        stream = io.TextIOWrapper(f, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(stream, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            problem = damage(f)
            yield _cut(shard, problem) if problem else _empty(shard)
            return
        header = [h.strip() for h in header]
        for i, cells in enumerate(reader):
            rid = f"{shard.rel}:{i}"
            if not cells:
                continue  # blank line
            if len(cells) != len(header):
                yield (
                    rid,
                    None,
                    f"row has {len(cells)} fields, header has {len(header)}",
                    delimiter.join(cells)[:RAW_LIMIT],
                    False,
                )
                continue
            yield _fixed(rid, dict(zip(header, cells, strict=True)), policy)
        if problem := damage(f):
            yield _cut(shard, problem)


def _parquet(shard: Shard, policy: str) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    bad = (OSError, pa.ArrowException)  # a cut-off or corrupt file: a reject, not a crashed run
    with seekable(shard.path, shard.compression) as (source, problem):
        if problem:  # rows of a damaged file are read if its footer came through (it rarely does)
            yield _cut(shard, problem)
        try:
            pf = pq.ParquetFile(source)
        except bad as e:
            if not problem:
                yield shard.rel, None, f"unreadable Parquet file ({_first_line(e)})", "", False
            return
        if pf.metadata.num_rows == 0 and not problem:
            yield _empty(shard)
            return
        # a compressed file is one shard holding every row group; a plain one has a shard per row group
        groups = list(range(pf.num_row_groups)) if shard.compression else [shard.start]
        offset = sum(pf.metadata.row_group(j).num_rows for j in range(groups[0]))
        for g in groups:
            end = offset + pf.metadata.row_group(g).num_rows
            try:
                for batch in pf.iter_batches(batch_size=PARQUET_BATCH, row_groups=[g]):
                    for row in batch.to_pylist():
                        yield _fixed(f"{shard.rel}:{offset}", row, policy)
                        offset += 1
            except bad as e:
                reason = f"unreadable Parquet row group {g} ({_first_line(e)}): rows {offset}-{end - 1} lost"
                yield f"{shard.rel}:{offset}", None, reason, "", False
            offset = end


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _hf(shard: Shard, policy: str) -> Iterator[Item]:
    import pyarrow as pa

    split, arrow = hf_arrow_files(Path(shard.path))[shard.start]
    prefix = f"{shard.rel}/{split + '/' if split else ''}{Path(arrow).name}"
    with pa.memory_map(arrow) as src:
        i = 0
        for batch in pa.ipc.open_stream(src):
            for row in batch.to_pylist():
                yield _fixed(f"{prefix}:{i}", row, policy)
                i += 1
        if i == 0:
            yield _empty(shard)


def _text(shard: Shard, unit: str, policy: str) -> Iterator[Item]:
    if unit == "line":
        yield from _text_lines(shard, policy)
    elif unit == "paragraph":
        yield from _paragraphs(shard, policy)
    else:  # the file is the record: it is read whole because the record holds all of it
        with open_bytes(shard.path, shard.compression) as f:
            raw = f.read()
            if problem := damage(f):  # the record is the file: a damaged file is not the record
                yield _cut(shard, problem)
                return
        try:
            text, repaired = decode(raw, policy)
        except BadEncoding as e:
            yield shard.rel, None, str(e), raw.decode("utf-8", "replace")[:RAW_LIMIT], False
            return
        yield (shard.rel, {"text": text}, None, None, repaired) if text.strip() else _empty(shard)


def _paragraphs(shard: Shard, policy: str) -> Iterator[Item]:
    """Blocks of lines between blank lines (only spaces, tabs, CR), streamed; the id carries the line
    where the block starts, and each block is decoded (and repaired) as its own record."""
    seen, block, first = False, [], 0
    for n, raw in chain(_lines(shard), [(0, b"")]):  # an empty last line ends the last block
        if isinstance(raw, bytes) and raw.strip(b" \t\r\n"):
            first = first if block else n
            block.append(raw)
            continue
        if block:
            item = _paragraph(f"{shard.rel}:{first}", b"".join(block).rstrip(b"\r\n"), policy)
            block = []
            if item:
                seen = True
                yield item
        if isinstance(raw, str):
            seen = True
            yield _cut(shard, raw)
    if not seen:
        yield _empty(shard)


def _paragraph(rid: str, raw: bytes, policy: str) -> Item | None:
    try:
        text, repaired = decode(raw, policy)
    except BadEncoding as e:
        return rid, None, str(e), raw.decode("utf-8", "replace")[:RAW_LIMIT], False
    return (rid, {"text": text}, None, None, repaired) if text.strip() else None


def _text_lines(shard: Shard, policy: str) -> Iterator[Item]:
    seen = False
    for n, raw in _lines(shard):
        if isinstance(raw, str):
            seen = True
            yield _cut(shard, raw)
            continue
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        seen = True
        rid = f"{shard.rel}:{n}"
        try:
            text, repaired = decode(line, policy)
        except BadEncoding as e:
            yield rid, None, str(e), line.decode("utf-8", "replace")[:RAW_LIMIT], False
            continue
        yield rid, {"text": text}, None, None, repaired
    if not seen and shard.start == 0:
        yield _empty(shard)
