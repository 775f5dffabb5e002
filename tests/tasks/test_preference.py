"""task.type: preference — records in TRL's shapes, prepare's pair checks and grouping, the tokenised pair."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from task_helpers import chatml, fallback

from lmforge.config import TaskConfig, load_config
from lmforge.data.record import to_record
from lmforge.tasks import get_task
from lmforge.tasks.preference import truncate_pair

TASK = get_task(TaskConfig(type="preference"))
USER = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    "row",
    [
        {"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."},
        {"prompt": USER, "chosen": [{"role": "assistant", "content": "Hello!"}], "rejected": "Go away."},
        {  # TRL's implicit prompt: two whole conversations sharing their history
            "chosen": [*USER, {"role": "assistant", "content": "Hello!"}],
            "rejected": [*USER, {"role": "assistant", "content": "Go away."}],
        },
        {"messages": [{"from": "human", "value": "Hi"}], "chosen": "Hello!", "rejected": "Go away."},
    ],
)
def test_every_shape_becomes_prompt_and_two_answers(row):
    rec = to_record("a:1", row, {}, "preference", {})
    assert not isinstance(rec, str), rec
    assert rec.fields["chosen"] == "Hello!" and rec.fields["rejected"] == "Go away."
    assert TASK.prompt_messages(rec.fields)[-1] == {"role": "user", "content": "Hi"}


@pytest.mark.parametrize(
    "row,reason",
    [
        ({"prompt": "Hi", "chosen": "Same.", "rejected": "Same. "}, "chosen == rejected"),
        ({"prompt": "Hi", "chosen": " ", "rejected": "No."}, "empty field 'chosen'"),
        ({"prompt": "Hi", "chosen": "Yes."}, "missing field 'rejected'"),
        ({"chosen": "Yes.", "rejected": "No."}, "missing field 'prompt'"),
        ({"prompt": "Hi", "completion": "Yes.", "label": "perhaps"}, "KTO label must be true or false"),
        (
            {"messages": [*USER, {"role": "assistant", "content": "Yo"}], "chosen": "a", "rejected": "b"},
            "must end with a user turn",
        ),
    ],
)
def test_bad_pairs_are_rejects_with_a_reason(row, reason):
    assert reason in to_record("a:1", row, {}, "preference", {})


def test_field_mapping_and_kto_label():
    rec = to_record(
        "a:1",
        {"q": "Hi", "a": "Yes.", "ok": "False"},
        {"prompt": "q", "completion": "a", "label": "ok"},
        "preference",
        {},
    )
    assert rec.fields == {"prompt": "Hi", "completion": "Yes.", "label": False}


def test_pair_tokens_are_the_inference_prompt_and_answers_through_eos(llama_tok, gpt2_tok):
    for tok, render in ((llama_tok, chatml), (gpt2_tok, fallback)):
        ex = TASK.encode({"prompt": "Two plus two?", "chosen": "Four.", "rejected": "Five."}, tok, 512)
        p = ex["prompt_len"]
        assert tok.decode(ex["input_ids"][:p]) == render("Two plus two?")
        assert tok.decode(ex["input_ids"][p:]) == "Four." + tok.eos_token
        assert tok.decode(ex["rejected_ids"]) == "Five." + tok.eos_token
        assert ex["labels"] == [-100] * p + ex["input_ids"][p:]


def test_history_is_prompt_only_and_kto_example(llama_tok):
    history = [*USER, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "And?"}]
    ex = TASK.encode({"messages": history, "chosen": "Bye.", "rejected": "Eh."}, llama_tok, 512)
    assert set(ex["labels"][: ex["prompt_len"]]) == {-100}  # the history's assistant turn is context
    assert llama_tok.decode(ex["input_ids"][ex["prompt_len"] :]) == "Bye.<|im_end|>"
    kto = TASK.encode({"prompt": "Hi", "completion": "Yo.", "label": True}, llama_tok, 512)
    assert kto["kto_label"] == 1 and "rejected_ids" not in kto


def test_truncation_cuts_the_prompt_from_the_left_never_an_answer():
    ex = {
        "input_ids": [1, 2, 3, 4, 7, 8],
        "labels": [-100] * 4 + [7, 8],
        "prompt_len": 4,
        "rejected_ids": [9, 9, 9],
    }
    counts = Counter()
    cut = truncate_pair(ex, 5, "right", counts)
    assert cut["input_ids"] == [3, 4, 7, 8] and cut["prompt_len"] == 2 and cut["rejected_ids"] == [9, 9, 9]
    assert truncate_pair(ex, 3, "right", counts) is None  # the rejected answer alone fills it
    assert truncate_pair(ex, 6, "drop", counts) is None
    assert counts == {"truncated": 1, "truncated_tokens": 2, "dropped": 2}


def test_prepare_dedups_on_prompt_and_chosen_and_keeps_a_prompts_pairs_in_one_split(tmp_path):
    from lmforge.data.prepare import prepare

    rows = []
    for i in range(40):
        for k in range(3):  # three pairs per prompt
            rows.append(
                {"q": f"Question number {i}?", "good": f"Answer {i}, take {k}.", "bad": f"Wrong {i} {k}."}
            )
    # the same prompt and chosen answer with another bad answer: a duplicate pair
    rows.append({"q": "Question number 0?", "good": "Answer 0, take 0.", "bad": "another bad one"})
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "exp.yaml").write_text(
        "data:\n  sources: [{path: raw.jsonl, fields: {prompt: q, chosen: good, rejected: bad}}]\n"
        "  steps: [exact_dedup]\n  split: {train: 0.8, val: 0.1, test: 0.1}\n"
        f"  output_dir: {tmp_path / 'out'}\n"
        "task: {type: preference}\ntrain: {objective: dpo}\n"
    )
    prepare(load_config(tmp_path / "exp.yaml"))
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rejects] == ["exact duplicate of raw.jsonl:1"]
    where = {}
    for split in ("train", "val", "test"):
        for line in (tmp_path / "out" / f"{split}.jsonl").read_text().splitlines():
            where.setdefault(json.loads(line)["prompt"], set()).add(split)
    assert len(where) == 40 and all(len(s) == 1 for s in where.values())
    assert {len(s) for s in where.values()} == {1} and len({next(iter(s)) for s in where.values()}) == 3
