"""The report's tool-call table: each rate with the n behind it, apart from the main eval table."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lmforge.reporting.eval_section import eval_table
from lmforge.reporting.render import write_report

EVAL = {
    "split": "test",
    "records": 12,
    "base": {
        "loss": 2.5,
        "n": 10,
        "rouge_l": 0.1,
        "tool_call_match": 0.125,
        "n_tool_call_match": 8,
        "tool_false_calls": 0.5,
        "n_tool_false_calls": 2,
        "tool_valid_json": float("nan"),
        "n_tool_valid_json": 0,
    },
    "finetuned": {
        "loss": 1.5,
        "n": 10,
        "rouge_l": 0.4,
        "tool_call_match": 0.75,
        "n_tool_call_match": 8,
        "tool_false_calls": 0.0,
        "n_tool_false_calls": 2,
        "tool_valid_json": 0.9,
        "n_tool_valid_json": 10,
    },
}


def test_tool_rows_carry_each_sides_n_and_leave_the_main_table():
    table = eval_table(EVAL)
    assert [r["metric"] for r in table["rows"]] == ["loss", "n", "rouge_l"]
    rows = {r["metric"]: r for r in table["tool_rows"]}
    assert list(rows) == ["tool_call_match", "tool_false_calls", "tool_valid_json"]
    assert (rows["tool_call_match"]["base"], rows["tool_call_match"]["finetuned"]) == (
        "0.125 (n=8)",
        "0.75 (n=8)",
    )
    assert rows["tool_call_match"]["verdict"] == "better"
    assert rows["tool_false_calls"]["verdict"] == "better"  # fewer calls where none was due
    assert rows["tool_valid_json"]["base"] == "- (n=0)" and rows["tool_valid_json"]["diff"] == ""


def test_report_page_shows_the_tool_table(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval.json").write_text(json.dumps(EVAL))
    html = write_report(run).read_text(encoding="utf-8")
    assert "<h3>Tool calls</h3>" in html
    row = re.search(r"<tr><td>tool_call_match</td>.*?</tr>", html).group(0)
    assert "0.125 (n=8)" in row and "0.75 (n=8)" in row and "+0.625" in row
    assert "n_tool_call_match" not in html
