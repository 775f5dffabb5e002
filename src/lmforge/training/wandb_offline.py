"""What W&B's offline run files hold, read back on resume.

wandb-core buffers its `.wandb` file in 32 KiB blocks, so a run killed with its process group (kill -9 of a
launcher, a lost node) keeps only what reached the disk: often nothing past the header. A resumed run asks
here which steps are really on disk and logs the rest again from metrics.jsonl. wandb 0.31 ships no Python
reader; the file is a LevelDB-style log (7-byte records headers: crc32c, length, type) of protobuf Records.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7  # ':W&B' + magic + version at the start of the file; also the size of each record's header


def records(path: Path) -> Iterator[Any]:
    """The wandb_internal_pb2.Record messages of one .wandb file, up to the first incomplete one."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, part = path.read_bytes(), HEADER, b""
    if data[:4] != b":W&B":
        return
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + HEADER])
        if left < HEADER or (length == 0 and kind == 0):  # the rest of the block is padding
            pos += left
            continue
        if pos + HEADER + length > len(data):
            return  # cut off by the kill
        part += data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (1, 4):  # full, or last piece of a record split over blocks
            record = pb.Record()
            record.ParseFromString(part)
            yield record
            part = b""


def last_step(root: Path, run_id: str, skip: Path | None = None) -> int | None:
    """The highest history step of run `run_id` on disk under root/wandb (-1: the run but no step yet);
    None when no offline file of it holds even the run's own record (its config was lost too).
    `skip`: the folder of the run being written now.

    >>> last_step(Path("runs/x"), "l7pkacmn")  # doctest: +SKIP
    6
    """
    found: int | None = None
    for path in root.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb"):
        if skip is not None and path.parent == skip:
            continue
        for record in records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                found = -1 if found is None else found
            elif kind == "history":
                items = record.history.item
                steps = [
                    json.loads(i.value_json) for i in items if (i.key or "/".join(i.nested_key)) == "_step"
                ]
                found = max([found if found is not None else -1, *steps])
    return found
