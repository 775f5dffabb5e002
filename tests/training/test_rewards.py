"""GRPO reward functions: the built-ins on real-looking completions, user functions, and errors that name them."""

from __future__ import annotations

import math

import pytest

from lmforge.errors import UserError
from lmforge.training.rewards import load_rewards, score

ANSWER = r"<answer>(.*?)</answer>"


def _score(specs, completions, base_dir=".", **columns):
    ids = [[0] * len(str(c)) for c in completions]
    return score(load_rewards(specs, base_dir), ["p"] * len(completions), completions, columns, ids)


def test_arithmetic_rewards_of_the_done_when():
    """0.5 for a well-formed <answer>N</answer>, 0.5 for the right number: format + exact_match."""
    completions = [
        "7 + 5 = 12, so <answer>12</answer>",
        "<answer>13</answer>",
        "the answer is 12",
        "<answer>1</answer> no wait <answer> 12 </answer>",  # the last answer counts
    ]
    specs = [
        {"name": "format", "pattern": r"<answer>\s*-?\d+\s*</answer>"},
        {"name": "exact_match", "field": "answer", "pattern": ANSWER},
    ]
    got = _score(specs, completions, answer=[12, 12, 12, 12])
    assert got.tolist() == [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]


def test_math_equivalence_through_math_verify():
    pytest.importorskip("math_verify")
    completions = ["<answer>0.5</answer>", "<answer>\\frac{1}{2}</answer>", "<answer>2/3</answer>", "none"]
    got = _score([{"name": "math", "pattern": ANSWER}], completions, answer=["1/2"] * 4)
    assert got[:, 0].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_math_reference_it_cannot_read_scores_nothing():
    pytest.importorskip("math_verify")
    got = _score(["math"], ["12"], answer=["not math at all, ###"])
    assert math.isnan(got[0, 0])


def test_tool_call_and_json_rewards():
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>'
    gold = [
        {
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"days": 3.0, "city": "Paris"}'},
        }
    ]
    wrong = call.replace("Paris", "Rome")
    got = _score(["tool_call"], [call, wrong, "It is sunny."], tool_calls=[gold, gold, gold])
    assert got[:, 0].tolist() == [1.0, 0.0, 0.0]
    got = _score(["tool_call"], [call, "No tool can do that."], tool_calls=[[], []])  # none due
    assert got[:, 0].tolist() == [0.0, 1.0]
    got = _score(["json_valid"], ['{"a": 1}', "{'a': 1}"])
    assert got[:, 0].tolist() == [1.0, 0.0]


def test_length_penalty_is_dapos_soft_overlong_punishment():
    trl_rewards = pytest.importorskip("trl.rewards")
    ids = [[1] * n for n in (10, 16, 18, 20)]
    ours = score(
        load_rewards([{"name": "length", "max_tokens": 20, "cache": 4}]), ["p"] * 4, ["x"] * 4, {}, ids
    )
    theirs = trl_rewards.get_soft_overlong_punishment(max_completion_len=20, soft_punish_cache=4)(
        completion_ids=ids
    )
    assert ours[:, 0].tolist() == pytest.approx(theirs)
    assert ours[:, 0].tolist() == [0.0, 0.0, -0.5, -1.0]


def test_user_function_from_a_file_and_chat_completions(tmp_path):
    (tmp_path / "rw.py").write_text(
        "def brevity(prompts, completions, **kw):\n"
        "    return [1.0 if len(c[0]['content']) < 5 else None for c in completions]\n"
    )
    chat = [[{"role": "assistant", "content": "ok"}], [{"role": "assistant", "content": "a long answer"}]]
    got = _score(["rw.py:brevity"], chat, base_dir=tmp_path)
    assert got[0, 0] == 1.0 and math.isnan(got[1, 0])


def test_errors_name_the_function(tmp_path):
    (tmp_path / "rw.py").write_text(
        "def broken(prompts, completions, **kw):\n    raise KeyError('solution')\n"
        "def short(prompts, completions, **kw):\n    return [1.0]\n"
        "def text(prompts, completions, **kw):\n    return ['yes' for _ in completions]\n"
    )
    with pytest.raises(UserError, match=r"reward function 'rw.py:broken' raised KeyError"):
        _score(["rw.py:broken"], ["a", "b"], base_dir=tmp_path)
    with pytest.raises(UserError, match="returned 1 values for 2 completions"):
        _score(["rw.py:short"], ["a", "b"], base_dir=tmp_path)
    with pytest.raises(UserError, match="'yes' for completion 0: not a number"):
        _score(["rw.py:text"], ["a"], base_dir=tmp_path)
    with pytest.raises(UserError, match="reads the field 'answer', which the records lack"):
        _score(["exact_match"], ["a"], solution=["1"])
    with pytest.raises(UserError, match="neither a built-in"):
        load_rewards(["exact"])
    with pytest.raises(UserError, match="format needs a `pattern`"):
        load_rewards(["format"])
    with pytest.raises(UserError, match="outside the YAML's folder"):
        load_rewards(["../rw.py:broken"], tmp_path / "sub")
