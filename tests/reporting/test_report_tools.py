"""The report of a prepared tool-calling data folder: calls per tool and the tool-calling records counted."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_report_html import images, section_ids

import lmforge
from lmforge.reporting.render import write_report


def _row(question: str, name: str | None) -> dict:
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("f", "g")
    ]
    answer = (
        {"role": "assistant", "content": "I cannot help with that."}
        if name is None
        else {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"function": {"name": name, "arguments": "{}"}}],
        }
    )
    return {"messages": [{"role": "user", "content": question}, answer], "tools": tools}


def test_report_counts_calls_per_tool(tmp_path: Path, monkeypatch) -> None:
    rows = [
        _row(f"question {w}", n) for w, n in zip("abcdefg", ["f", "f", "f", "g", "g", None, "h"], strict=True)
    ]
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        "name: tools\ntask: {type: sft}\ndata:\n  sources: [{path: raw.jsonl}]\n  output_dir: out\n  workers: 1\n"
    )
    monkeypatch.chdir(tmp_path)
    lmforge.prepare(lmforge.load_config("exp.yaml"), quiet=True)
    html = write_report(tmp_path / "out").read_text(encoding="utf-8")
    assert "tools" in section_ids(html) and '<a href="#tools">tool calls</a>' in html
    section = html[
        html.index('<section id="tools">') : html.index("</section>", html.index('<section id="tools">'))
    ]
    cells = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([^<]+)</td></tr>", section))
    assert cells["records that declare tools"] == "6"  # the call to the undeclared h is a reject
    assert cells["records with tool calls"] == "5" and cells["records offered tools, answered in text"] == "1"
    assert cells["f"] == "3" and cells["g"] == "2" and "h" not in cells
    assert len(images(section)) == 1


def test_no_tools_section_without_tool_records(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "raw.jsonl").write_text(json.dumps({"prompt": "Hi there", "response": "Hello."}) + "\n")
    (tmp_path / "exp.yaml").write_text(
        "name: plain\ntask: {type: sft}\ndata:\n  sources: [{path: raw.jsonl}]\n  output_dir: out\n  workers: 1\n"
    )
    monkeypatch.chdir(tmp_path)
    lmforge.prepare(lmforge.load_config("exp.yaml"), quiet=True)
    assert "tools" not in section_ids(write_report(tmp_path / "out").read_text(encoding="utf-8"))
