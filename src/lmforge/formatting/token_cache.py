"""Tokenise a prepared split into training examples, batched, in parallel, and cached by fingerprint.

The cache lives in `data.output_dir/tokenized/<fingerprint>/` (examples.parquet + meta.json). The
fingerprint covers everything that changes the tokens: the split file's content, the tokenizer (its
vocabulary, normalisation, special tokens and chat template, as loaded), the task's prompt template and
config, max_seq_len, packing and the lmforge version. Change any of them and the split is tokenised anew;
change none and the cache is read back (axolotl #1265 and #3303 are what a stale cache does). A new cache
of a split replaces the split's older ones: they are removed, so the folder does not grow with every change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lmforge.errors import UserError
from lmforge.formatting.packing import pack
from lmforge.formatting.templates import ensure_chat_template, eos_token_ids
from lmforge.formatting.tool_template import prepare_template
from lmforge.tasks import Task, get_task, resolve_labels
from lmforge.tasks.causal_lm import chunk

log = logging.getLogger("lmforge.token_cache")
BATCH = 512  # records per call of the fast tokenizer
# below this many records a process pool costs more than it saves (2 cores, SFT records: even at 1,000,
# 1.5x faster at 3,000, 2x at 20,000; its processes get the tokenizer once, when they start)
PARALLEL_MIN = 2_000
PROGRESS_MIN = 5_000  # a progress bar for splits at least this large
FORMAT = 2  # bump when the encoding changes within one lmforge version, so old caches are not reused
CACHE_NAME = re.compile(r"[0-9a-f]{16}")  # a cache folder is named by its fingerprint
KEEP_OTHER_CACHES = 2  # a split's older tokenised caches kept beside the newest
_WORKER: tuple[Any, Any] = (None, None)  # (task, tokenizer) in a pool process, set when it starts


def tokenize_split(cfg: Any, split: str, tokenizer: Any, packed: bool | None = None) -> list[dict]:
    """Training examples of `data.output_dir/<split>.jsonl`; packed into bins when `train.packing`.

    >>> tokenize_split(cfg, "train", tok)[0].keys()  # doctest: +SKIP
    dict_keys(['input_ids', 'labels', 'position_ids', 'seq_lens'])
    """
    examples, _ = tokenize_split_info(cfg, split, tokenizer)
    if packed is None:
        packed = cfg.train.packing and cfg.task.head != "classifier"
    return pack(examples, cfg.train.max_seq_len) if packed else examples


def tokenize_split_info(cfg: Any, split: str, tokenizer: Any) -> tuple[list[dict], dict[str, Any]]:
    """Unpacked examples and the counts (records, examples, truncated, dropped, no_loss) of one split."""
    path = Path(cfg.data.output_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise UserError(f"{path} not found: run `lmforge prepare` first (or set data.output_dir)")
    ensure_chat_template(tokenizer, cfg.task.chat_template)
    train = Path(cfg.data.output_dir) / "train.jsonl"  # every split renders as train does
    prepare_template(tokenizer, mentions_tools(train if train.is_file() else path), cfg.train.thinking)
    task = make_task(cfg)
    key = fingerprint(cfg, path, tokenizer, task)
    folder = Path(cfg.data.output_dir) / "tokenized" / key
    if (folder / "meta.json").is_file():
        try:
            return _read(folder)
        except OSError:  # removed as stale by a run with other settings just now: tokenise anew
            pass
    records = read_jsonl(path)
    examples, counts = encode_records(task, records, tokenizer, cfg.train.max_seq_len, cfg.data.workers)
    stats = {
        "split": split,
        "records": len(records),
        "examples": len(examples),
        "fingerprint": key,
        **{k: counts.get(k, 0) for k in ("truncated", "truncated_tokens", "dropped", "no_loss", "chunked")},
    }
    _write(folder, examples, stats)
    remove_stale(folder, split)
    if stats["truncated"] or stats["dropped"]:
        log.warning(
            "%s: %d truncated (%s), %d dropped of %d records",
            split,
            stats["truncated"],
            cfg.task.truncate,
            stats["dropped"],
            len(records),
        )
    return examples, stats


def make_task(cfg: Any) -> Task:
    """The task for cfg, with its label set resolved from the train split when `task.labels` is unset."""
    task = get_task(cfg.task)
    task.thinking = cfg.train.thinking
    if cfg.task.type == "classification":
        task.labels = resolve_labels(cfg.task.labels, Path(cfg.data.output_dir) / "train.jsonl")
    return task


def encode_records(
    task: Task, records: list[dict], tokenizer: Any, max_seq_len: int, workers: int | None = None
) -> tuple[list[dict], Counter]:
    """Encode in batches (one fast-tokenizer call each), over a process pool for large splits.

    The pool's processes get the task and tokenizer once, when they start: sent with every batch, the
    tokenizer's unpickling (~0.2 s for a 49k vocabulary) cost more than the batch's encoding.
    """
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    workers = min(workers or os.cpu_count() or 1, len(batches))
    bar = tqdm(
        total=len(records), desc="tokenize", unit="rec", disable=len(records) < PROGRESS_MIN, leave=False
    )
    if workers > 1 and len(records) >= PARALLEL_MIN:
        with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(task, tokenizer)) as pool:
            work = pool.map(_encode_in_worker, batches, [max_seq_len] * len(batches))
            results = [_tick(bar, r) for r in work]
    else:
        results = [_tick(bar, _encode_batch(task, b, tokenizer, max_seq_len)) for b in batches]
    bar.close()
    examples, counts = [], Counter()
    for batch_examples, batch_counts in results:
        examples += batch_examples
        counts.update(batch_counts)
    return examples, counts


def _encode_batch(
    task: Task, records: list[dict], tokenizer: Any, max_seq_len: int
) -> tuple[list[dict], Counter]:
    if task.name == "causal_lm":  # documents are chunked, never truncated
        encoded, counts = task.encode_batch(records, tokenizer, 1 << 62)
        out = [c for e in encoded if e for c in chunk(e, max_seq_len)]
        counts["chunked"] += sum(1 for e in encoded if e and len(e["input_ids"]) > max_seq_len)
        return out, counts
    encoded, counts = task.encode_batch(records, tokenizer, max_seq_len)
    return [e for e in encoded if e is not None], counts


def _tick(bar: Any, result: tuple[list[dict], Counter]) -> tuple[list[dict], Counter]:
    bar.update(min(BATCH, bar.total - bar.n))  # batches are BATCH records, the last one fewer
    return result


def _start_worker(task: Task, tokenizer: Any) -> None:
    global _WORKER
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the pool already uses every core
    _WORKER = (task, tokenizer)


def _encode_in_worker(records: list[dict], max_seq_len: int) -> tuple[list[dict], Counter]:
    task, tokenizer = _WORKER
    return _encode_batch(task, records, tokenizer, max_seq_len)


def mentions_tools(path: Path) -> bool:
    """Whether a prepared split holds tools or tool calls: a byte scan for their keys, as prepare writes them.

    A line that only quotes the key in its text counts too; harmless: the tool template renders
    conversations without tools exactly as the original (tests/tasks/test_tool_render.py).
    """
    with path.open("rb") as f:
        return any(b'"tools": [' in line or b'"tool_calls": [' in line for line in f)


def read_jsonl(path: Path) -> list[dict]:
    """Records of a prepared split; a malformed line is a one-line error naming file and line."""
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return out


def fingerprint(cfg: Any, path: Path, tokenizer: Any, task: Task) -> str:
    """sha256 (16 hex) over what decides the tokens; see the module docstring."""
    from lmforge.version import __version__

    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    parts = {
        "tokenizer": tokenizer_state(tokenizer),
        "eos": sorted(eos_token_ids(tokenizer)),
        "template": task.template,
        "labels": task.labels,
        "task": cfg.task.model_dump(mode="json"),
        "max_seq_len": cfg.train.max_seq_len,
        "packing": cfg.train.packing,
        "thinking": cfg.train.thinking,
        "version": f"{__version__}/{FORMAT}",
    }
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def tokenizer_state(tokenizer: Any) -> str:
    """The tokenizer as it will be used: its full serialised model plus special tokens and chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    special = {k: str(v) for k, v in tokenizer.special_tokens_map.items()}
    return hashlib.sha256(f"{body}|{special}|{tokenizer.chat_template}".encode()).hexdigest()


def _write(folder: Path, examples: list[dict], stats: dict[str, Any]) -> None:
    """Write atomically (temp folder, then rename): a killed run never leaves a half cache, and processes
    tokenising the same split at once (DDP ranks) all end with the same whole cache."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        columns = sorted({k for e in examples for k in e}) or ["input_ids"]
        table = pa.table({c: [e.get(c) for e in examples] for c in columns})
        pq.write_table(table, tmp / "examples.parquet")
        (tmp / "meta.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
        if folder.is_dir() and not (folder / "meta.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # debris, not a cache: caches appear whole, by rename
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (
                folder / "meta.json"
            ).is_file():  # another process (a DDP rank) wrote the same cache first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale(folder: Path, split: str, keep: int = KEEP_OTHER_CACHES) -> list[str]:
    """Remove the split's other caches beside `folder` (just written) but the `keep` newest; returns their
    names. Keeping a few lets settings that alternate (a tune trial's max_seq_len, a base and a fine-tuned
    tokenizer in eval) read their caches back instead of tokenising every time.

    Only lmforge's own caches go: a folder named by a fingerprint whose meta.json names that fingerprint
    and this split. Each is first renamed away (atomic), so a reader sees a whole cache or none, and a
    reader that loses the race tokenises anew; two runs removing the same cache do not collide.

    >>> remove_stale(Path("data/tokenized/0123456789abcdef"), "train", keep=0)  # doctest: +SKIP
    ['fedcba9876543210']
    """
    own = []
    for old in folder.parent.iterdir():
        if old.name == folder.name or not CACHE_NAME.fullmatch(old.name):
            continue
        try:
            meta = json.loads((old / "meta.json").read_text(encoding="utf-8"))
            written = (old / "meta.json").stat().st_mtime
        except (OSError, ValueError):
            continue  # not a whole cache (or not ours): leave it
        if isinstance(meta, dict) and meta.get("split") == split and meta.get("fingerprint") == old.name:
            own.append((written, old))
    removed = []
    for _, old in sorted(own, reverse=True)[keep:]:
        trash = Path(tempfile.mkdtemp(prefix=".stale-", dir=folder.parent)) / old.name
        try:
            os.rename(old, trash)
            removed.append(old.name)
        except OSError:
            pass  # another run removed it first
        shutil.rmtree(trash.parent, ignore_errors=True)
    if removed:
        log.info("%s: removed %d stale tokenised cache(s): %s", split, len(removed), ", ".join(removed))
    return removed


def _read(folder: Path) -> tuple[list[dict], dict[str, Any]]:
    import pyarrow.parquet as pq

    stats = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    rows = pq.read_table(folder / "examples.parquet").to_pylist()
    examples = [{k: v for k, v in row.items() if v is not None} for row in rows] if stats["examples"] else []
    return examples, {**stats, "cached": True}
