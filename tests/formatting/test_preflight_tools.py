"""`lmforge inspect` on tool-calling data: counts, the tool definitions' tokens, what max_seq_len cuts of
definitions and calls, and a tool-calling example with its trained tokens marked."""

from __future__ import annotations

import json

import yaml

from lmforge.cli import main
from lmforge.config import load_config
from lmforge.formatting.preflight import COLOR_OPEN, format_report
from lmforge.formatting.preflight import inspect as inspect_api

WORDS = "the city name as travellers write it on a postcard to a friend back home ".split()


def weather_tool(description_words: int = 6) -> dict:
    about = " ".join(WORDS[i % len(WORDS)] for i in range(description_words))
    return {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": about}},
                "required": ["city"],
            },
        },
    }


def call_record(i: int, tool: dict, city: str = "Paris", result: bool = True, arg: str | None = None) -> dict:
    args = {"city": arg or city}
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": args}}
    messages = [
        {"role": "user", "content": f"Weather in {city} on day {i}?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
    ]
    if result:
        messages += [
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
            {"role": "assistant", "content": f"21 degrees in {city}."},
        ]
    return {"id": f"t:{i}", "messages": messages, "tools": [tool], "meta": {}}


def text_record(i: int, tool: dict) -> dict:
    messages = [
        {"role": "user", "content": f"Tell me joke {i}"},
        {"role": "assistant", "content": "No jokes."},
    ]
    return {"id": f"j:{i}", "messages": messages, "tools": [tool], "meta": {}}


def experiment(tmp_path, model, train, max_seq_len=512, truncate="right"):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for split, records in (("train", train), ("val", []), ("test", [])):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    exp = {
        "name": "tools",
        "model": {"name": model},
        "data": {"output_dir": str(data)},
        "task": {"type": "sft", "truncate": truncate},
        "train": {"output_dir": str(tmp_path / "run"), "batch_size": 2, "max_seq_len": max_seq_len},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp), encoding="utf-8")
    return path


def test_tool_view_counts_and_marks_the_trained_call(tmp_path, tiny_llama, capsys):
    tool = weather_tool()
    train = [text_record(9, tool)] + [call_record(i, tool) for i in range(4)]  # the first example: no call
    assert main(["inspect", str(experiment(tmp_path, tiny_llama, train))]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "inspect.json").read_text())["tools"]
    assert report["records_with_tools"] == 5 and report["records_with_calls"] == 4
    assert report["records_answered_in_text"] == 1 and report["results"] == 4
    assert report["calls_per_tool"] == {"get_weather": 4}
    assert report["cut"] == {"definitions": 0, "calls": 0, "dropped": 0} and report["measured"] == 5
    spans = report["example"]["spans"]
    trained = "".join(text for text, on in spans if on)
    untrained = "".join(text for text, on in spans if not on)
    assert report["example"]["id"] == "t:0"
    assert (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>'
        in trained
    )
    assert "21 degrees in Paris.<|im_end|>" in trained
    assert "<tools>" in untrained and "<tool_response>" in untrained and "<tools>" not in trained
    # the definitions' tokens as measured equal the tokens of the tools block the template writes
    from lmforge.models import load_tokenizer

    tok = load_tokenizer(tiny_llama)
    text = "".join(t for t, _ in spans)
    # the system turn the tools add: the record has no system message of its own
    block = text[text.index("system\n# Tools") : text.index("<|im_start|>user")]
    measured = report["definition_tokens"]["max"]
    assert abs(measured - len(tok(block, add_special_tokens=False)["input_ids"])) <= 2, measured
    assert "tools: 5 records declare tools, 4 call them (4 calls: get_weather 4), 1 answer in text" in out
    assert (
        "tool-calling example, record t:0 (trained tokens marked as above):" in out and "[[<tool_call>" in out
    )
    assert "cut by max_seq_len: definitions in 0 records, calls in 0, dropped 0" in out


def test_left_truncation_cutting_the_definitions_is_counted_and_warned(tmp_path, tiny_llama):
    long_tool = weather_tool(description_words=600)  # ~600 tokens of schema before every question
    train = [call_record(i, long_tool, result=False) for i in range(3)]
    train += [call_record(i, weather_tool(), result=False) for i in range(3, 5)]  # short: not cut
    cfg = load_config(experiment(tmp_path, tiny_llama, train, max_seq_len=400, truncate="left"))
    report = inspect_api(cfg, strict=False)
    tools = report["tools"]
    assert tools["cut"] == {"definitions": 3, "calls": 0, "dropped": 0}
    assert (
        tools["definition_tokens"]["over_half_max_seq_len"] == 3 and tools["definition_tokens"]["max"] > 600
    )
    assert tools["definition_tokens"]["share"] > 0.5
    warnings = "\n".join(report["warnings"])
    assert "3 of 5 tool-calling train records have their tool definitions cut by max_seq_len 400" in warnings
    assert "most of the budget goes to schemas" in warnings


def test_right_truncation_through_a_call_is_counted(tmp_path, tiny_llama):
    tool = weather_tool()
    long_city = " ".join(["Llanfairpwllgwyngyll"] * 60)  # the call's arguments run past max_seq_len
    train = [call_record(0, tool, arg=long_city, result=False), call_record(1, tool, result=False)]
    cfg = load_config(experiment(tmp_path, tiny_llama, train, max_seq_len=260))
    report = inspect_api(cfg, strict=False)
    assert report["tools"]["cut"] == {"definitions": 0, "calls": 1, "dropped": 0}
    assert any(
        "1 of 2 tool-calling train records have a tool-calling turn cut through" in w
        for w in report["warnings"]
    )
    assert report["tools"]["example"]["id"] == "t:0"  # truncated, still trained: shown as training sees it
    cfg = load_config(experiment(tmp_path, tiny_llama, train, max_seq_len=260, truncate="drop"))
    assert inspect_api(cfg, strict=False)["tools"]["cut"] == {"definitions": 0, "calls": 0, "dropped": 1}


def test_colour_in_a_terminal_plain_markers_otherwise(tmp_path, tiny_llama):
    train = [call_record(i, weather_tool()) for i in range(2)]
    report = inspect_api(load_config(experiment(tmp_path, tiny_llama, train)), strict=False)
    plain, colour = format_report(report), format_report(report, color=True)
    assert "[[<tool_call>" in plain and COLOR_OPEN not in plain
    assert f"{COLOR_OPEN}<tool_call>" in colour and "[[" not in colour
    assert "tool-calling example: the example above (record t:0)" in plain  # the first example: not twice
    assert json.loads((tmp_path / "run" / "inspect.json").read_text())["example"].count("[[") == 2
