"""bench/train_whole.py's real dialogues: alternating user/assistant turns from the chitchat-dataset package."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("psutil")


def test_dialogues_alternate_and_end_with_an_answer(tmp_path) -> None:
    from bench.train_whole import dialogues, write_data

    convs = dialogues(20)
    assert len(convs) == 20
    for msgs in convs:
        assert [m["role"] for m in msgs] == ["user", "assistant"] * (len(msgs) // 2)
        assert all(m["content"].strip() for m in msgs)
    assert dialogues(5, skip=3) == convs[3:8]
    data = write_data(tmp_path, 4, 2)
    rows = [json.loads(line) for line in (data / "val.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["chitchat/val:1", "chitchat/val:2"]
    assert rows[0]["messages"] == convs[4]
