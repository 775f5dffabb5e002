"""Damaged compressed input (a bad gzip CRC, garbage inside a deflate, bz2, xz or zstd stream): every reader
keeps what came before the damage, one reject names the file and the error, and the run goes on (exit 0)
with every record of the intact files kept."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from lmforge.cli import main

N = 400  # records per file: several compressed blocks of text, so the damage falls in the middle


def _texts(tag: str) -> list[str]:
    rng = random.Random(tag)
    return [f"{tag} record {i} " + " ".join(rng.choice("abcdefgh") * 3 for _ in range(12)) for i in range(N)]


def _jsonl(texts: list[str]) -> bytes:
    return "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()


def _json(texts: list[str]) -> bytes:
    return json.dumps([{"text": t} for t in texts], indent=1).encode()


def _csv(texts: list[str]) -> bytes:
    return ("text\n" + "".join(f"{t}\n" for t in texts)).encode()


def _txt(texts: list[str]) -> bytes:
    return "".join(f"{t}\n\n" for t in texts).encode()


def _html(texts: list[str]) -> bytes:
    return ("<html><body>" + "".join(f"<p>{t}</p>" for t in texts) + "</body></html>").encode()


def _parquet(texts: list[str]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": texts}), buf, row_group_size=100)
    return buf.getvalue()


# folder -> (extension, writer, source options, records per file when intact)
FORMATS = {
    "jsonl": (".jsonl", _jsonl, {}, N),
    "json": (".json", _json, {}, N),
    "csv": (".csv", _csv, {}, N),
    "txt": (".txt", _txt, {"unit": "paragraph"}, N),
    "html": (".html", _html, {"unit": "file"}, 1),
    "parquet": (".parquet", _parquet, {}, N),
}


def _garbage(packed: bytes) -> bytes:
    """Random bytes over the middle of a compressed stream."""
    b, mid = bytearray(packed), len(packed) // 2
    b[mid : mid + 48] = random.Random(mid).randbytes(48)
    return bytes(b)


def _bad_crc(packed: bytes) -> bytes:
    b = bytearray(packed)
    b[-6] ^= 0xFF  # gzip's trailer: CRC32 (4 bytes), then the length (4 bytes)
    return bytes(b)


# name -> (extension, damaged compressed bytes of the plain ones)
DAMAGE = {
    "gzip_crc": (".gz", lambda b: _bad_crc(gzip.compress(b))),
    "gzip_deflate": (".gz", lambda b: _garbage(gzip.compress(b))),
    "gzip_truncated": (".gz", lambda b: gzip.compress(b)[: len(gzip.compress(b)) // 2]),
    "bz2": (".bz2", lambda b: _garbage(bz2.compress(b))),
    "xz": (".xz", lambda b: _garbage(lzma.compress(b))),
    "zstd": (".zst", lambda b: _garbage(zstandard.ZstdCompressor(write_checksum=True).compress(b))),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_file_is_a_reject_and_the_intact_files_are_all_kept(runner, capsys, damage):
    ext, spoil = DAMAGE[damage]
    sources = []
    for folder, (suffix, write, opts, _) in FORMATS.items():
        runner.write(f"{folder}/a_intact{suffix}", write(_texts(f"{folder} intact")))
        runner.write(f"{folder}/b_intact{suffix}.gz", gzip.compress(write(_texts(f"{folder} packed"))))
        runner.write(f"{folder}/c_bad{suffix}{ext}", spoil(write(_texts(f"{folder} bad"))))
        sources.append({"path": folder, **opts})
    cfg = runner.config(sources, workers=2)
    assert main(["prepare", str(cfg)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    kept = [r for name in ("train", "val", "test") for r in runner.read(f"out/{name}.jsonl")]
    rejects = {r["id"]: r["reason"] for r in runner.read("out/rejects.jsonl")}
    for folder, (suffix, _, _, n) in FORMATS.items():
        for intact in (f"{folder}/a_intact{suffix}", f"{folder}/b_intact{suffix}.gz"):
            assert sum(r["meta"]["source"] == intact for r in kept) == n, (intact, rejects)
        bad = f"{folder}/c_bad{suffix}{ext}"
        assert rejects[bad].startswith(("damaged compressed file", "compressed file cut off")), (bad, rejects)
    stats = json.loads((runner.root / "out" / "stats.json").read_text())
    assert stats["accounting"]["ok"]


def test_records_before_the_damage_are_kept(runner):
    # a bad CRC is found after the last byte: every record came through, and the file is still named
    runner.write("a.jsonl.gz", _bad_crc(gzip.compress(_jsonl(_texts("a")))))
    runner.write("b.json.xz", lzma.compress(_json(_texts("b")))[:-200])
    _, kept, rejects = runner.run([{"path": "a.jsonl.gz"}, {"path": "b.json.xz"}])
    assert [r["text"] for r in kept if r["id"].startswith("a.")] == _texts("a")
    from_b = [r["text"] for r in kept if r["id"].startswith("b.")]
    assert 0 < len(from_b) < N and from_b == _texts("b")[: len(from_b)]
    assert [r["reason"].split(" (")[0] for r in rejects if ":" not in r["id"]] == [
        "damaged compressed file",
        "compressed file cut off",
    ]


def test_what_the_damage_decoded_to_is_not_kept(runner):
    """gzip checks its CRC after the member: what a corrupt deflate block decodes to came out first, and
    lines of it that were not UTF-8 were kept as repaired text (6 here). The text now ends before the
    first line that is not UTF-8; lines after the damage that still parse are what no reader can tell."""
    rows = [
        {"prompt": f"问题 {i} 怎么办？", "response": f"这是第{i}个回答，请按照说明书操作。"}
        for i in range(2000, 3000)
    ]
    b = bytearray(gzip.compress("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()))
    mid = len(b) // 2
    for k in range(mid, mid + 40):
        b[k] = random.Random(k).randrange(256)
    runner.write("bad.jsonl.gz", bytes(b))
    _, kept, rejects = runner.run([{"path": "bad.jsonl.gz"}], task="sft")
    assert 400 < len(kept) < 600  # the damage is in the middle
    assert not [r["response"] for r in kept if r["meta"].get("encoding_repaired")]
    reason = next(r["reason"] for r in rejects if r["id"] == "bad.jsonl.gz")
    assert reason.startswith("damaged compressed file") and "the first line that is not text" in reason
