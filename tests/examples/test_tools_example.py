"""examples/tools: the committed raw data is what make_data.py writes from BFCL, and prepare rejects each
planted fault with its reason while keeping every good question (`test_examples.py` trains and evaluates it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lmforge.config import load_config
from lmforge.data.prepare import prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tools"
# what make_data.py plants (its `note`) -> the reject reason prepare must give
REASONS = {
    "python_dict_arguments": "are not valid JSON (Expecting property name enclosed in double quotes",
    "cut_arguments": "are not valid JSON",
    "dotted_name": "which the record does not declare",
    "result_for_no_call": "a tool result without a tool call before it",
    "result_for_another_id": "tool result for call id 'call_1', which no call before it has",
    "required_missing": "is a required property",
    "integer_as_text": "is not of type 'integer'",
    "gorilla_types": "the declared parameters are not a valid JSON Schema ('dict' is not valid",
}


def test_raw_data_is_what_make_data_writes(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(EXAMPLE / "make_data.py"), str(tmp_path)], check=True, capture_output=True
    )
    for name in ("openai_export.jsonl", "sharegpt_export.json"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / "raw" / name).read_bytes(), name


def test_prepare_rejects_each_planted_fault_and_keeps_every_good_question(tmp_path: Path):
    cfg = load_config(EXAMPLE / "exp.yaml", [f"train.output_dir={tmp_path}", "data.workers=1"])
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"] == {
        **stats["accounting"],
        "read": 310,
        "kept": 283,
        "rejected": 27,
        "ok": True,
    }
    rejects = [json.loads(line) for line in open(tmp_path / "data" / "rejects.jsonl")]
    planted = [r for r in rejects if r["step"] == "read" and r["record"].get("note")]
    assert len(planted) == 14
    for r in planted:
        assert REASONS[r["record"]["note"]] in r["reason"], (r["record"]["note"], r["reason"])
    # BFCL's own ground truth breaks its schema once: a list where the enum wants a string
    real = [r for r in rejects if r["step"] == "read" and not r["record"].get("note")]
    assert [r["record"]["bfcl_id"] for r in real] == ["live_simple_71-35-0"]
    assert "is not one of" in real[0]["reason"]
    assert sum(r["step"] == "exact_dedup" for r in rejects) == 8  # 6 exported twice, 2 in both files
    assert sum(r["step"] == "near_dedup" for r in rejects) == 4  # 4 questions sent again with a word added
    kept = [
        json.loads(line) for s in ("train", "val", "test") for line in open(tmp_path / "data" / f"{s}.jsonl")
    ]
    ids = [r["meta"]["extra"]["bfcl_id"] for r in kept]
    assert len(ids) == len(set(ids)) == 283  # no duplicate left, no good question lost
    assert (
        sum(i.startswith("live_simple_") for i in ids) == 258 - 15
        and sum(i.startswith("irrelevance_") for i in ids) == 40
    )
    assert stats["tools"]["records_with_calls"] == 243 and stats["tools"]["records_answered_in_text"] == 40
    # 51 questions in ShareGPT form, one of them live_simple_71-35-0; 2 more that the OpenAI export holds too
    sharegpt = [r for r in kept if r["meta"]["source"].endswith("sharegpt_export.json")]
    assert len(sharegpt) == 50 and all(r["messages"][-1]["tool_calls"] for r in sharegpt)
