"""tokenize_split: cached by fingerprint (rebuilt on any change, reused otherwise), counts, chunking, packing."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from lmforge.config import load_config
from lmforge.errors import UserError
from lmforge.formatting.token_cache import encode_records, tokenize_split, tokenize_split_info
from lmforge.models import load_tokenizer

SFT = [
    {"prompt": f"Question number {i}?", "response": "Answer " * (i + 1), "id": f"q.jsonl:{i}", "meta": {}}
    for i in range(12)
]


def _write(folder, split, records):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _cfg(model, data_dir, *overrides):
    return load_config(
        None, [f"model.name={model}", f"data.output_dir={data_dir}", "train.packing=false", *overrides]
    )


def _cache_dirs(data_dir):
    return sorted(p.name for p in (data_dir / "tokenized").iterdir() if not p.name.startswith("."))


def test_cache_reused_when_nothing_changed(tmp_path, tiny_llama):
    _write(tmp_path, "train", SFT)
    cfg, tok = _cfg(tiny_llama, tmp_path), load_tokenizer(tiny_llama)
    first, stats = tokenize_split_info(cfg, "train", tok)
    again, stats2 = tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", load_tokenizer(tiny_llama))
    assert "cached" not in stats and stats2["cached"] is True
    assert again == first and len(first) == 12
    assert len(_cache_dirs(tmp_path)) == 1


@pytest.mark.parametrize(
    "change", ["data", "template", "chat_template", "task", "max_seq_len", "packing", "tokenizer", "version"]
)
def test_cache_rebuilt_on_any_change(tmp_path, tiny_llama, change, monkeypatch):
    _write(tmp_path, "train", SFT)
    tok = load_tokenizer(tiny_llama)
    _, base = tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", tok)
    overrides = []
    if change == "data":
        _write(tmp_path, "train", SFT[:-1])
    elif change == "template":
        overrides = ['task.template="Q: {prompt}"']
    elif change == "chat_template":
        tok.chat_template = tok.chat_template.replace("helpful", "useful")
    elif change == "task":
        overrides = ["task.train_on_prompt=true"]
    elif change == "max_seq_len":
        overrides = ["train.max_seq_len=40"]
    elif change == "packing":
        overrides = ["train.packing=true"]
    elif change == "tokenizer":
        tok.add_tokens(["<|brand_new|>"])
    else:
        monkeypatch.setattr("lmforge.version.__version__", "9.9.9")
    examples, stats = tokenize_split_info(_cfg(tiny_llama, tmp_path, *overrides), "train", tok)
    assert "cached" not in stats and stats["fingerprint"] != base["fingerprint"]
    # the superseded cache stays as one of the split's two newest older ones (removal: test below)
    assert _cache_dirs(tmp_path) == sorted([stats["fingerprint"], base["fingerprint"]])
    if change == "template":
        assert tok.decode(examples[0]["input_ids"]).count("Q: Question number 0?") == 1


def test_truncation_counts(tmp_path, tiny_llama):
    _write(tmp_path, "train", SFT)
    tok = load_tokenizer(tiny_llama)
    lengths = [len(e["input_ids"]) for e in tokenize_split(_cfg(tiny_llama, tmp_path), "train", tok)]
    limit = sorted(lengths)[5]  # the 6 longer records exceed it
    over = sum(n > limit for n in lengths)
    for policy in ("right", "left", "drop"):
        ex, st = tokenize_split_info(
            _cfg(tiny_llama, tmp_path, f"train.max_seq_len={limit}", f"task.truncate={policy}"), "train", tok
        )
        assert all(len(e["input_ids"]) <= limit for e in ex)
        if policy == "drop":
            assert (st["dropped"], st["truncated"], len(ex)) == (over, 0, 12 - over)
        else:
            assert st["truncated"] == over and st["dropped"] == 0
            assert st["truncated_tokens"] == sum(n - limit for n in lengths if n > limit)
            assert len(ex) + st["no_loss"] == 12  # right cuts may leave no answer token: dropped, counted


def test_causal_lm_chunks_documents_and_packs(tmp_path, tiny_gpt2):
    docs = [
        {"text": "The quick brown fox jumps over the lazy dog. " * k, "id": f"d:{k}", "meta": {}}
        for k in (1, 4)
    ]
    _write(tmp_path, "train", docs)
    tok = load_tokenizer(tiny_gpt2)
    cfg = _cfg(tiny_gpt2, tmp_path, "task.type=causal_lm", "train.max_seq_len=32")
    ex, st = tokenize_split_info(cfg, "train", tok)
    whole = [tok(d["text"])["input_ids"] + [tok.eos_token_id] for d in docs]
    assert [t for e in ex for t in e["input_ids"]] == whole[0] + whole[1]  # nothing lost, EOS after each
    assert all(e["labels"] == e["input_ids"] for e in ex) and st["chunked"] == 1
    bins = tokenize_split(cfg, "train", tok, packed=True)
    assert sorted(n for b in bins for n in b["seq_lens"]) == sorted(len(e["input_ids"]) for e in ex)
    assert all(len(b["input_ids"]) <= 32 for b in bins)


def test_packing_follows_config_and_classifier_is_never_packed(tmp_path, tiny_llama):
    _write(tmp_path, "train", SFT)
    tok = load_tokenizer(tiny_llama)
    bins = tokenize_split(_cfg(tiny_llama, tmp_path, "train.packing=true"), "train", tok)
    assert len(bins) < 12 and sum(len(b["seq_lens"]) for b in bins) == 12
    records = [{"text": f"text {i}", "label": ["a", "b"][i % 2]} for i in range(4)]
    _write(tmp_path / "cls", "train", records)
    cls = tokenize_split(
        _cfg(
            tiny_llama,
            tmp_path / "cls",
            "train.packing=true",
            "task.type=classification",
            "task.head=classifier",
        ),
        "train",
        tok,
    )
    assert [e["label"] for e in cls] == [0, 1, 0, 1] and "labels" not in cls[0]


def test_parallel_equals_serial(tiny_llama, monkeypatch):
    from lmforge.config import TaskConfig
    from lmforge.tasks import get_task

    tok = load_tokenizer(tiny_llama)
    task = get_task(TaskConfig(type="sft"))
    serial, c1 = encode_records(task, SFT * 3, tok, 512, workers=1)
    monkeypatch.setattr("lmforge.formatting.token_cache.PARALLEL_MIN", 1)
    monkeypatch.setattr("lmforge.formatting.token_cache.BATCH", 8)
    parallel, c2 = encode_records(task, SFT * 3, tok, 512, workers=2)
    assert parallel == serial and c1 == c2


def test_missing_split_and_bad_json_are_one_line_errors(tmp_path, tiny_llama):
    tok = load_tokenizer(tiny_llama)
    with pytest.raises(UserError, match="run `lmforge prepare` first"):
        tokenize_split(_cfg(tiny_llama, tmp_path), "train", tok)
    (tmp_path / "train.jsonl").write_text('{"prompt": "a", "response": "b"}\n{oops\n')
    with pytest.raises(UserError, match=r"train.jsonl:2: not valid JSON"):
        tokenize_split(_cfg(tiny_llama, tmp_path), "train", tok)


def test_second_writer_keeps_the_whole_cache(tmp_path, tiny_llama):
    """Two processes (DDP ranks) finishing the same cache: the second rename loses and leaves it whole."""
    from lmforge.formatting.token_cache import _read
    from lmforge.formatting.token_cache import _write as write_cache

    _write(tmp_path, "train", SFT)
    examples, stats = tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", load_tokenizer(tiny_llama))
    folder = tmp_path / "tokenized" / stats["fingerprint"]
    write_cache(folder, examples[:1], stats)
    assert _read(folder)[0] == examples
    assert [p.name for p in (tmp_path / "tokenized").iterdir()] == [stats["fingerprint"]]  # no temp left


def test_new_cache_removes_only_the_splits_own_stale_caches(tmp_path, tiny_llama):
    """Other splits' caches, foreign folders and files, and half-written temp folders stay."""
    _write(tmp_path, "train", SFT)
    _write(tmp_path, "val", SFT[:3])
    tok = load_tokenizer(tiny_llama)
    _, old = tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", tok)
    _, val = tokenize_split_info(_cfg(tiny_llama, tmp_path), "val", tok)
    cache = tmp_path / "tokenized"
    keep = ["0123456789abcdef", "notes", ".tmp-half"]  # no meta.json / not a fingerprint / in progress
    for name in keep:
        (cache / name).mkdir()
    (cache / "0123456789abcdef" / "examples.parquet").write_text("user data")
    (cache / "README.txt").write_text("mine")
    fake = cache / "fedcba9876543210"  # a fingerprint-named folder whose meta.json is not lmforge's
    fake.mkdir()
    (fake / "meta.json").write_text(json.dumps({"split": "train", "fingerprint": "something else"}))

    os.utime(cache / old["fingerprint"] / "meta.json", (1e9, 1e9))  # oldest, with no mtime ties
    newer = []
    for n in (40, 41, 42):  # the two newest older caches stay, so alternating settings reuse theirs
        _, info = tokenize_split_info(_cfg(tiny_llama, tmp_path, f"train.max_seq_len={n}"), "train", tok)
        newer.append(info["fingerprint"])
        os.utime(cache / info["fingerprint"] / "meta.json", (1e9 + n, 1e9 + n))  # no mtime ties
    left = sorted(p.name for p in cache.iterdir())
    assert old["fingerprint"] not in left
    assert sorted([*newer, val["fingerprint"], *keep, "README.txt", fake.name]) == left
    _, info = tokenize_split_info(_cfg(tiny_llama, tmp_path, "train.max_seq_len=41"), "train", tok)
    assert info["cached"] is True
    again, stats = tokenize_split_info(_cfg(tiny_llama, tmp_path), "val", tok)  # val's cache was kept
    assert stats["cached"] is True and len(again) == 3


def test_a_cache_removed_while_reading_is_rebuilt(tmp_path, tiny_llama, monkeypatch):
    """A run with other settings removes this split's cache between the check and the read."""
    import lmforge.formatting.token_cache as tz

    _write(tmp_path, "train", SFT)
    tok = load_tokenizer(tiny_llama)
    first, stats = tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", tok)
    real_read = tz._read

    def racing_read(folder):
        shutil.rmtree(folder)  # what remove_stale in another run does (by rename, then delete)
        return real_read(folder)

    monkeypatch.setattr(tz, "_read", racing_read)
    again, stats2 = tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", tok)
    assert "cached" not in stats2 and again == first
    monkeypatch.setattr(tz, "_read", real_read)
    assert tokenize_split_info(_cfg(tiny_llama, tmp_path), "train", tok)[1]["cached"] is True
