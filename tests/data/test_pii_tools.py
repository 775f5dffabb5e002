"""pii on tool-calling conversations: the calls' arguments are redacted like the question, JSON kept valid."""

from __future__ import annotations

import json
from pathlib import Path

from lmforge.data.record import Record, to_record
from lmforge.data.steps import StepContext, build_steps

RAW = Path(__file__).resolve().parents[2] / "examples" / "tools" / "raw" / "openai_export.jsonl"


def pii(**opts):
    return build_steps([{"pii": opts}], StepContext())[0]


def record(row: dict) -> Record:
    rec = to_record("t:1", row, {"messages": "messages"}, "sft", {})
    assert isinstance(rec, Record), rec
    return rec


def keys(value):
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    return [keys(v) for v in value] if isinstance(value, list) else type(value).__name__


def test_real_bfcl_call_arguments_redacted():
    row = next(json.loads(line) for line in RAW.open() if '"live_simple_136-89-0"' in line)
    rec = record(row)
    args = rec.fields["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert args["url"] == "https://192.168.1.1/api/v1/applications/topologies"
    assert pii().process(rec) is True
    new_args = rec.fields["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert new_args["url"] == "https://<IP_ADDRESS>/api/v1/applications/topologies"
    assert new_args["params"] == args["params"]  # nothing personal there: untouched
    assert "192.168.1.1" not in json.dumps(rec.fields)
    assert rec.meta["pii"] == {"ip": 2}  # the question's and the call's


def written():
    return {
        "tools": [{"type": "function", "function": {"name": "send", "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "user", "content": "Mail Ana and text her."},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "Ana's address is ana.lopez@example.org.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "send",
                            "arguments": json.dumps(
                                {
                                    "to": ["ana.lopez@example.org"],
                                    "sms": {"number": "+44 20 7219 3000", "retries": 2147483647},
                                    "ana.lopez@example.org": True,  # a key: never rewritten
                                }
                            ),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"sent_to": "ana.lopez@example.org"}'},
            {"role": "assistant", "content": "Done."},
        ],
    }


def test_arguments_results_and_thinking_redacted_keys_and_numbers_kept():
    rec = record(written())
    before = json.loads(json.dumps(rec.fields))
    pii().process(rec)
    turn = rec.fields["messages"][1]
    args = turn["tool_calls"][0]["function"]["arguments"]
    assert args == {
        "to": ["<EMAIL>"],
        "sms": {"number": "<PHONE>", "retries": 2147483647},
        "ana.lopez@example.org": True,
    }
    assert keys(args) == keys(before["messages"][1]["tool_calls"][0]["function"]["arguments"])
    assert turn["reasoning_content"] == "Ana's address is <EMAIL>."
    assert json.loads(rec.fields["messages"][2]["content"]) == {"sent_to": "<EMAIL>"}  # still JSON
    assert rec.meta["pii"] == {"email": 3, "phone": 1}
    assert rec.orig == before  # rejects.jsonl and the funnel see the record as read
    assert rec.changes == 3


def test_drop_and_on_see_arguments():
    rec = record(written())
    assert pii(action="drop").process(rec) == (False, "contains PII (email x3, phone x1)")
    assert rec.fields["messages"][1]["tool_calls"][0]["function"]["arguments"]["to"] == [
        "ana.lopez@example.org"
    ]
    rec = record(written())
    assert pii(on=["prompt"]).process(rec) is True  # no field named: the conversation is left alone
    assert rec.orig is None
