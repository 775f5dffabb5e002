"""Conversations in prepare: the normal form (system?, user/assistant alternating, assistant last), each
fixing rule and its reject, and the rejects landing in rejects.jsonl instead of crashing training."""

from __future__ import annotations

import json

import pytest

from lmforge.data.conversation import normalize


def turns(*pairs):
    return [{"from": who, "value": text} for who, text in pairs]


def test_clean_sharegpt_is_mapped_and_untouched():
    msgs, fixes = normalize(
        turns(("system", "S"), ("human", "a"), ("gpt", "b"), ("human", "c"), ("gpt", "d"))
    )
    assert msgs == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    assert fixes == {}


@pytest.mark.parametrize(
    "raw,fixed,fixes,reason",
    [
        (  # empty turns dropped, then the two user turns they separated are one
            turns(("human", "a"), ("gpt", "  "), ("human", "b"), ("gpt", "c")),
            [("user", "a\n\nb"), ("assistant", "c")],
            {"empty_turns": 1, "merged": 1},
            "empty turn 1 (assistant)",
        ),
        (  # the assistant opening: dropped (it answers nothing)
            turns(("system", "S"), ("gpt", "Welcome!"), ("human", "a"), ("gpt", "b")),
            [("system", "S"), ("user", "a"), ("assistant", "b")],
            {"leading_assistant": 1},
            "conversation starts with the assistant (turn 1)",
        ),
        (  # not alternating: a message sent in two parts becomes one
            turns(("human", "a"), ("gpt", "b"), ("gpt", "c"), ("human", "d"), ("gpt", "e")),
            [("user", "a"), ("assistant", "b\n\nc"), ("user", "d"), ("assistant", "e")],
            {"merged": 1},
            "two assistant turns in a row (turns 1, 2)",
        ),
        (  # a question without an answer at the end
            turns(("human", "a"), ("gpt", "b"), ("human", "c")),
            [("user", "a"), ("assistant", "b")],
            {"trailing_user": 1},
            "conversation ends with a user turn (turn 2)",
        ),
        (  # two system messages at the start
            turns(("system", "S"), ("system", "T"), ("human", "a"), ("gpt", "b")),
            [("system", "S\n\nT"), ("user", "a"), ("assistant", "b")],
            {"merged": 1},
            "system turns 0-1 in a row",
        ),
    ],
)
def test_fix_rules_and_their_rejects(raw, fixed, fixes, reason):
    msgs, got = normalize(raw, "fix")
    assert [(m["role"], m["content"]) for m in msgs] == fixed and got == fixes
    assert normalize(raw, "reject") == reason


@pytest.mark.parametrize(
    "raw,reason",
    [
        (turns(("human", "a"), ("narrator", "b")), "unknown role 'narrator' in turn 1"),
        (
            turns(("human", "a"), ("gpt", "b"), ("system", "c"), ("gpt", "d")),
            "system turn 2 is not at the start",
        ),
        (turns(("gpt", "a"), ("gpt", "b")), "conversation has no user turn"),
        (turns(("system", "S"), ("human", "a")), "conversation has no assistant turn"),
        (turns(("human", "a"), ("gpt", "")), "conversation has no assistant turn"),
        ([{"from": "human", "value": ["a"]}], "turn 0 has no text content (list)"),
        (["hi"], "turn 0 is a str, not an object"),
        ([], "field 'messages' is not a non-empty list"),
    ],
)
def test_unfixable_is_rejected_with_the_turn_named(raw, reason):
    got = normalize(raw, "fix")
    assert isinstance(got, str) and got.startswith(reason)


def test_prepare_fixes_or_rejects_conversations(runner):
    rows = [
        {"conversations": turns(("human", "Hi"), ("chatgpt", "Hello!"))},
        {"conversations": turns(("gpt", "Welcome!"), ("human", "Hi"), ("bing", ""), ("bard", "Hey"))},
        {"conversations": turns(("human", "Hi"), ("narrator", "42"))},  # tool is a role now (tool_calls.py)
        {"conversations": turns(("human", "Anyone?"))},
    ]
    runner.write("chats.json", json.dumps(rows))
    stats, kept, rejects = runner.run(
        [{"path": "chats.json", "fields": {"messages": "conversations"}}], task="sft"
    )
    assert [r["id"] for r in kept] == ["chats.json:0", "chats.json:1"]
    assert kept[0]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert kept[1]["messages"] == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]
    assert kept[1]["meta"]["conversation_fixed"] == {"empty_turns": 1, "leading_assistant": 1}
    reasons = {r["id"]: (r["step"], r["reason"]) for r in rejects}
    assert reasons["chats.json:2"][0] == "read" and reasons["chats.json:2"][1].startswith(
        "unknown role 'narrator' in turn 1"
    )
    assert reasons["chats.json:3"] == ("read", "conversation has no assistant turn")
    assert stats["accounting"] == {"read": 4, "kept": 2, "rejected": 2, "ok": True}


def test_task_conversation_reject_rejects_what_fix_would_repair(runner):
    import yaml

    from lmforge.data.prepare import prepare

    rows = [
        {"conversations": turns(("human", "Hi"), ("gpt", "Hello!"))},
        {"conversations": turns(("gpt", "Welcome!"), ("human", "Hi"), ("gpt", "Hey"))},
    ]
    runner.write("chats.json", json.dumps(rows))
    path = runner.config([{"path": "chats.json", "fields": {"messages": "conversations"}}], task="sft")
    exp = yaml.safe_load(path.read_text())
    exp["task"]["conversation"] = "reject"
    path.write_text(yaml.safe_dump(exp))
    stats = prepare(path, quiet=True)
    assert stats["accounting"]["kept"] == 1 and stats["accounting"]["rejected"] == 1
    rejects = [json.loads(line) for line in (runner.root / "out" / "rejects.jsonl").read_text().splitlines()]
    assert rejects[0]["id"] == "chats.json:1" and "assistant" in rejects[0]["reason"]
