"""Readers: every format family, compression, globs and folders, ids, field mapping, bad input."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from lmforge.cli import main
from lmforge.errors import UserError

LINES = "".join(json.dumps({"text": f"record number {i}"}) + "\n" for i in range(3))


def test_jsonl_ids_and_meta(runner):
    runner.write("raw/a.jsonl", LINES)
    stats, kept, rejects = runner.run([{"path": "raw/a.jsonl"}])
    assert [r["id"] for r in kept] == ["raw/a.jsonl:1", "raw/a.jsonl:2", "raw/a.jsonl:3"]
    assert kept[0]["meta"]["source"] == "raw/a.jsonl" and kept[0]["text"] == "record number 0"
    assert stats["accounting"] == {"read": 3, "kept": 3, "rejected": 0, "ok": True}


@pytest.mark.parametrize(
    "ext,compress",
    [
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
        (".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_compressed(runner, ext, compress):
    runner.write(f"raw/a.jsonl{ext}", compress(LINES.encode()))
    _, kept, _ = runner.run([{"path": "raw"}])
    assert [r["text"] for r in kept] == [f"record number {i}" for i in range(3)]
    assert kept[2]["id"] == f"raw/a.jsonl{ext}:3"


def test_json_array_and_object_of_arrays(runner):
    runner.write("a.json", json.dumps([{"text": "one"}, {"text": "two"}]))
    runner.write("b.json", json.dumps({"text": ["three", "four"], "label": ["x", "y"]}))
    _, kept, _ = runner.run([{"path": "*.json"}])
    assert [(r["id"], r["text"]) for r in kept] == [
        ("a.json:0", "one"),
        ("a.json:1", "two"),
        ("b.json:0", "three"),
        ("b.json:1", "four"),
    ]
    assert kept[2]["meta"]["extra"] == {"label": "x"}  # causal_lm has no label: kept as metadata


def test_csv_tsv_with_field_mapping(runner):
    runner.write("a.csv", 'q,a\n"hello, there",general kenobi\n"multi\nline",ok\n')
    runner.write("b.tsv", "q\ta\nwhy\tbecause\n")
    _, kept, _ = runner.run(
        [
            {"path": "a.csv", "fields": {"prompt": "q", "response": "a"}},
            {"path": "b.tsv", "fields": {"prompt": "q", "response": "a"}},
        ],
        task="sft",
    )
    assert [(r["id"], r["prompt"], r["response"]) for r in kept] == [
        ("a.csv:0", "hello, there", "general kenobi"),
        ("a.csv:1", "multi\nline", "ok"),
        ("b.tsv:0", "why", "because"),
    ]


def test_parquet_by_row_group(runner):
    table = pa.table({"text": [f"row {i}" for i in range(5)]})
    pq.write_table(table, runner.root / "a.parquet", row_group_size=2)
    _, kept, _ = runner.run([{"path": "a.parquet"}])
    assert [(r["id"], r["text"]) for r in kept] == [(f"a.parquet:{i}", f"row {i}") for i in range(5)]
    runner.write("z/a.parquet.gz", gzip.compress((runner.root / "a.parquet").read_bytes()))
    _, kept, _ = runner.run([{"path": "z"}], out="z_out")
    assert [(r["id"], r["text"]) for r in kept] == [(f"z/a.parquet.gz:{i}", f"row {i}") for i in range(5)]


def test_text_units(runner):
    runner.write("d/a.txt", "first para line one\nline two\n\n\nsecond para\n")
    runner.write("d/b.md", "# Title\n\nBody text.\n")
    _, per_file, _ = runner.run([{"path": "d", "unit": "file"}], out="o1")
    assert [r["id"] for r in per_file] == ["d/a.txt", "d/b.md"]
    _, per_line, _ = runner.run([{"path": "d/a.txt", "unit": "line"}], out="o2")
    assert [(r["id"], r["text"]) for r in per_line] == [
        ("d/a.txt:1", "first para line one"),
        ("d/a.txt:2", "line two"),
        ("d/a.txt:5", "second para"),
    ]
    _, per_para, _ = runner.run([{"path": "d/a.txt", "unit": "paragraph"}], out="o3")
    assert [(r["id"], r["text"]) for r in per_para] == [
        ("d/a.txt:1", "first para line one\nline two"),
        ("d/a.txt:5", "second para"),
    ]


def test_html_keeps_markup_until_strip_html(runner):
    runner.write("p.html", "<html><body><p>Hello <b>world</b></p><pre>x = 1\n    y = 2</pre></body></html>")
    _, raw, _ = runner.run([{"path": "p.html"}], out="o1")
    assert "<b>world</b>" in raw[0]["text"]
    _, clean, _ = runner.run([{"path": "p.html"}], steps=["strip_html"], out="o2")
    assert clean[0]["text"] == "Hello world\n\n```\nx = 1\n    y = 2\n```"


def test_hf_save_to_disk(runner):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"text": ["alpha", "beta"]}).save_to_disk(str(runner.root / "hf"))
    _, kept, _ = runner.run([{"path": "hf"}])
    assert [r["text"] for r in kept] == ["alpha", "beta"]
    assert kept[1]["id"].startswith("hf/data-") and kept[1]["id"].endswith(":1")


def test_bad_input_becomes_rejects_with_reasons(runner):
    runner.write(
        "a.jsonl", '{"text": "fine"}\n{broken\n[1, 2]\n{"txt": "wrong field"}\n{"text": 7}\n{"text": "  "}\n'
    )
    runner.write("empty.jsonl", "")
    stats, kept, rejects = runner.run([{"path": "*.jsonl"}])
    assert [r["text"] for r in kept] == ["fine"]
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert reasons["a.jsonl:2"].startswith("malformed JSON")
    assert reasons["a.jsonl:3"] == "JSON line is a list, not an object"
    assert reasons["a.jsonl:4"].startswith("missing field 'text'")
    assert reasons["a.jsonl:5"] == "non-text value in field 'text' (int)"
    assert reasons["a.jsonl:6"] == "empty field 'text'"
    assert reasons["empty.jsonl"] == "empty file"
    assert all(r["step"] == "read" for r in rejects)
    assert stats["accounting"] == {"read": 7, "kept": 1, "rejected": 6, "ok": True}


def test_invalid_utf8_is_repaired_per_record_and_counted(runner):
    runner.write("a.jsonl", b'{"text": "caf\xe9 cr\xe8me"}\n{"text": "plain"}\n')
    runner.write("b.csv", b"text\nna\xefve\n")
    stats, kept, _ = runner.run([{"path": "a.jsonl"}, {"path": "b.csv"}])
    assert [r["text"] for r in kept] == ["café crème", "plain", "naïve"]
    assert stats["encoding_repaired"] == 2 and kept[0]["meta"]["encoding_repaired"] is True


def test_invalid_utf8_rejected_when_asked(runner):
    runner.write("a.jsonl", b'{"text": "caf\xe9"}\n{"text": "plain"}\n')
    _, kept, rejects = runner.run([{"path": "a.jsonl", "encoding_errors": "reject"}])
    assert [r["text"] for r in kept] == ["plain"]
    assert rejects[0]["reason"] == "invalid UTF-8 at byte 13"


def test_missing_source_is_a_user_error(runner, capsys):
    cfg = runner.config([{"path": "nope/*.jsonl"}])
    with pytest.raises(UserError, match=r"data.sources\[0\].path: no file matches nope/\*.jsonl"):
        runner.run([{"path": "nope/*.jsonl"}])
    assert main(["prepare", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no file matches" in err


def test_unknown_step_names_the_nearest(runner, capsys):
    runner.write("a.jsonl", LINES)
    cfg = runner.config([{"path": "a.jsonl"}], steps=[{"lenght": {"min_words": 2}}])
    assert main(["prepare", str(cfg)]) == 2
    assert "unknown step 'lenght'; did you mean 'length'?" in capsys.readouterr().err
    cfg = runner.config([{"path": "a.jsonl"}], steps=[{"length": {"min_wrds": 2}}])
    assert main(["prepare", str(cfg)]) == 2
    assert "did you mean 'min_words'?" in capsys.readouterr().err


def test_large_line_file_cut_into_shards_keeps_line_ids(runner, monkeypatch):
    import lmforge.data.sources as sources

    monkeypatch.setattr(sources, "SHARD_BYTES", 64)
    runner.write(
        "a.jsonl", "".join(json.dumps({"text": f"line {i} " + "x" * (i % 7)}) + "\n" for i in range(50))
    )
    shards = sources.plan_shards(0, str(runner.root / "a.jsonl"), "a.jsonl", "jsonl", "file")
    assert len(shards) > 5
    _, kept, _ = runner.run([{"path": "a.jsonl"}])
    assert [r["id"] for r in kept] == [f"a.jsonl:{i + 1}" for i in range(50)]
    assert [r["text"].split()[1] for r in kept] == [str(i) for i in range(50)]


# ---------------------------------------------------------------- bounded memory, broken files
_READ_AND_MEASURE = """
import json, resource, sys
from lmforge.data.readers import read_shard
from lmforge.data.sources import Shard
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ids, last = 0, None
for item in read_shard(Shard(0, sys.argv[1], "big.json", "json", ""), "file", "repair"):
    ids += item[1] is not None
    last = item
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"kept": ids, "last": last[:3], "growth_kb": growth}))
"""


def test_truncated_100mb_json_array_keeps_every_complete_element_in_bounded_memory(tmp_path):
    import subprocess
    import sys

    body = "lorem ipsum dolor sit amet " * 150  # ~4 KB per answer
    path, offsets, pos = tmp_path / "big.json", [], 2
    with open(path, "wb") as f:
        f.write(b"[\n")
        for i in range(27_000):
            el = json.dumps(
                {"messages": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": body}]}
            )
            if i:
                f.write(b",\n")
                pos += 2
            offsets.append(pos)
            f.write(el.encode())
            pos += len(el)
        f.truncate(offsets[-1] + 1000)  # a partial download: cut inside the last element
    assert path.stat().st_size > 100_000_000
    # a fresh process, so peak RSS is this read's and no earlier test's
    out = subprocess.run(
        [sys.executable, "-c", _READ_AND_MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    res = json.loads(out.stdout)
    assert res["kept"] == 26_999
    rid, row, reason = res["last"]
    assert rid == "big.json:26999" and row is None
    assert reason.startswith(f"truncated JSON array (element 26999 from byte {offsets[-1]} is cut off")
    # the whole-file reader held the text and the parsed array: ~256 MB for this file
    assert res["growth_kb"] < 40_000, res


def test_broken_json_array_keeps_elements_before_the_break(runner):
    good = [{"text": f"record {i}"} for i in range(3)]
    full = json.dumps(good + [{"text": "the last one"}], indent=1)
    runner.write("cut.json", full[: full.rindex("the last")])
    runner.write("bad.json", '[{"text": "a"}, {"text": "b"} oops, {"text": "c"}]')
    stats, kept, rejects = runner.run([{"path": "*.json"}])
    assert [r["id"] for r in kept] == ["bad.json:0", "bad.json:1", "cut.json:0", "cut.json:1", "cut.json:2"]
    reasons = {r["id"]: r["reason"] for r in rejects}
    start = full.index("{", full.index("record 2"))
    assert reasons["cut.json:3"].startswith(f"truncated JSON array (element 3 from byte {start} ")
    assert (
        reasons["bad.json:2"].startswith("malformed JSON (lexical error")
        and "from byte 30" in reasons["bad.json:2"]
    )
    assert [r["record"] for r in rejects if r["id"] == "bad.json:2"] == ['oops, {"text": "c"}]']
    assert stats["accounting"] == {"read": 7, "kept": 5, "rejected": 2, "ok": True}


def test_json_bytes_and_escapes_repaired_per_element(runner):
    # cp1252 bytes in one element, a lone surrogate escape (text cut inside an emoji), a BOM, a pair
    runner.write(
        "a.json", b'\xef\xbb\xbf[{"text": "caf\xe9"}, {"text": "cut \\ud83d"}, {"text": "ok \\ud83d\\ude00"}]'
    )
    stats, kept, _ = runner.run([{"path": "a.json"}])
    assert [r["text"] for r in kept] == ["café", "cut \ufffd", "ok \U0001f600"]
    assert stats["encoding_repaired"] == 1 and kept[0]["meta"]["encoding_repaired"] is True


def test_json_surrogate_escape_across_chunks(monkeypatch, tmp_path):
    import lmforge.data.json_stream as js

    monkeypatch.setattr(js, "CHUNK", 16)  # every escape pair lands on some chunk cut
    texts = [f"{'x' * i} \\ud83d\\ude00 \\\\ud83d \\udc00" for i in range(20)]
    path = tmp_path / "a.json"
    path.write_text("[" + ", ".join(f'{{"text": "{t}"}}' for t in texts) + "]", encoding="utf-8")
    got = [v["text"] for _, v, _, _ in js.read_json(js.Shard(0, str(path), "a.json", "json", ""))]
    assert got == [f"{'x' * i} \U0001f600 \\ud83d \ufffd" for i in range(20)]


def test_paragraphs_stream_and_repair_each_paragraph(runner):
    runner.write("a.txt", b"caf\xe9 first\nstill first\n\n \t\nsecond\r\n\r\nthird\n")
    stats, kept, _ = runner.run([{"path": "a.txt", "unit": "paragraph"}])
    assert [(r["id"], r["text"]) for r in kept] == [
        ("a.txt:1", "café first\nstill first"),
        ("a.txt:5", "second"),
        ("a.txt:7", "third"),
    ]
    assert stats["encoding_repaired"] == 1  # one bad byte marks its own paragraph, not the file


def test_parquet_large_row_group_in_batches(runner):
    table = pa.table({"text": [f"row {i}" for i in range(3000)]})
    pq.write_table(table, runner.root / "a.parquet", row_group_size=2500)
    runner.write(
        "z/a.parquet.zst", zstandard.ZstdCompressor().compress((runner.root / "a.parquet").read_bytes())
    )
    _, kept, _ = runner.run([{"path": "a.parquet"}, {"path": "z"}])
    assert [r["id"] for r in kept[2998:3002]] == [
        "a.parquet:2998",
        "a.parquet:2999",
        "z/a.parquet.zst:0",
        "z/a.parquet.zst:1",
    ]
    assert [r["text"] for r in kept] == [f"row {i}" for i in range(3000)] * 2


@pytest.mark.parametrize(
    "ext,compress",
    [
        (".gz", gzip.compress),
        (".xz", lzma.compress),
        (".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_cut_off_compressed_file_keeps_the_lines_before_the_cut(runner, ext, compress):
    # a partial download: gzip/xz raised EOFError (every record lost), zstd ended without a word
    lines = "".join(json.dumps({"text": f"record {i} {i * 7919 % 10007}"}) + "\n" for i in range(20_000))
    packed = compress(lines.encode())
    runner.write(f"a.jsonl{ext}", packed[: len(packed) * 2 // 3])
    stats, kept, rejects = runner.run([{"path": f"a.jsonl{ext}"}])
    assert len(kept) > 5_000
    assert [r["text"] for r in kept] == [f"record {i} {i * 7919 % 10007}" for i in range(len(kept))]
    reasons = [r["reason"] for r in rejects]
    assert reasons[-1].startswith("compressed file cut off") and rejects[-1]["id"] == f"a.jsonl{ext}"
    assert len(rejects) <= 2  # at most the cut last line, and the cut itself
    assert stats["accounting"]["ok"]


def test_cut_off_parquet_and_csv(runner):
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(100)]}), runner.root / "full.parquet")
    data = (runner.root / "full.parquet").read_bytes()
    runner.write("cut.parquet", data[: len(data) // 2])
    runner.write(
        "b.csv.gz", gzip.compress(b"text\n" + b"".join(b"line %d\n" % i for i in range(50_000)))[:60_000]
    )
    _, kept, rejects = runner.run([{"path": "cut.parquet"}, {"path": "b.csv.gz"}])
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert reasons["cut.parquet"].startswith("unreadable Parquet file")
    assert reasons["b.csv.gz"].startswith("compressed file cut off")
    assert len(kept) > 10_000 and kept[0]["text"] == "line 0"
