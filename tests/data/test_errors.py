"""When prepare fails: a wrong option type is a config error (exit 2), a step that keeps raising is a bug
that stops the run (exit 1), a bad value stays a reject, and a run that keeps too little fails (exit 1)."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from lmforge.cli import main
from lmforge.config import load_config
from lmforge.data.prepare import prepare
from lmforge.data.steps import STEPS, ExactDedup
from lmforge.data.steps.options import check_options, describe
from lmforge.errors import RunFailed, UserError

BUG = """
def boom(row):
    if "bad" in row["text"]:
        return 1 / 0  # the planted bug
    return True
"""
PICKY = """
from lmforge.data.steps import BadRecord

def picky(row):
    if "bad" in row["text"]:
        raise BadRecord("the text says bad")
"""


def lines(n: int, bad_every: int = 0, start: int = 0) -> str:
    """n JSON lines of 6 words; every `bad_every`-th one says "bad"."""
    rows = []
    for i in range(start, start + n):
        word = "bad" if bad_every and i % bad_every == 0 else "good"
        rows.append(json.dumps({"text": f"record {i} is a {word} one"}))
    return "\n".join(rows) + "\n"


def one_line_err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_wrong_option_type_is_exit_2_naming_the_dotted_key(runner, capsys):
    runner.write("a.jsonl", lines(5))
    cfg = runner.config([{"path": "a.jsonl"}], steps=["normalize", {"length": {"min_words": "3"}}])
    assert main(["prepare", str(cfg)]) == 2
    err = one_line_err(capsys)
    assert "data.steps[1].length.min_words: expected an integer or null, got '3' (a string)" in err
    assert not (runner.root / "out").exists()  # nothing ran
    with pytest.raises(UserError, match=r"data.steps\[0\].pii.on: expected a list of strings or null"):
        load_config(None, ["data.steps=[{pii: {on: response}}]"])  # a string would be read char by char
    with pytest.raises(UserError, match=r"did you mean 'min_words'"):
        load_config(None, ["data.steps=[{length: {min_wrds: 3}}]"])
    assert load_config(None, ["data.steps=[{language: {min_score: 1}}]"]).data.steps  # int for float: fine


def test_list_dict_and_literal_options_are_typed():
    with pytest.raises(UserError, match=r"x.top_n_grams: expected a mapping of integers to numbers or null"):
        check_options(STEPS["gopher_repetition"], {"top_n_grams": {"2": 0.2}}, "x")
    check_options(STEPS["gopher_repetition"], {"top_n_grams": {2: 0.2}}, "x")

    class Mode:  # a step declaring a Literal option
        def __init__(self, mode: Literal["redact", "drop"] = "redact", **kw) -> None:
            pass

    with pytest.raises(UserError, match=r"x.mode: expected one of 'redact', 'drop', got 'mask'"):
        check_options(Mode, {"mode": "mask"}, "x")
    assert describe(list[str] | None) == "a list of strings or null"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_step_that_keeps_raising_stops_the_run(runner, capsys, workers):
    runner.write("bug.py", BUG)
    runner.write("a.jsonl", lines(40, bad_every=2))
    runner.write("b.jsonl", lines(40, bad_every=2, start=40))
    cfg = runner.config(
        [{"path": "*.jsonl"}], steps=["normalize", {"custom": {"fn": "bug.py:boom"}}], workers=workers
    )
    assert main(["prepare", str(cfg)]) == 1
    err = one_line_err(capsys)
    assert "step 'custom (bug.py:boom)' raised on 11 records (more than 10)" in err
    assert "ZeroDivisionError: division by zero on " in err and "errors.log" in err
    log = (runner.root / "out" / "errors.log").read_text()
    assert 'bug.py", line 4, in boom' in log and log.count("--- step 'custom (bug.py:boom)'") >= 11
    assert not (runner.root / "out" / "train.jsonl").exists()  # no output from a broken step


def test_the_rerun_after_the_fix_redoes_shards_the_bug_touched(runner):
    runner.write("bug.py", BUG)
    runner.write("a.jsonl", lines(12, bad_every=4))  # 3 errors: this shard completes
    runner.write("b.jsonl", lines(40, bad_every=2, start=12))  # 20: the run stops here
    steps = [{"custom": {"fn": "bug.py:boom"}}]
    with pytest.raises(RunFailed, match="raised on 11 records"):
        runner.run([{"path": "*.jsonl"}], steps=steps)
    runner.write("bug.py", BUG.replace("return 1 / 0  # the planted bug", 'return False, "says bad"'))
    _, kept, rejects = runner.run([{"path": "*.jsonl"}], steps=steps)
    assert len(kept) == 29 and {r["reason"] for r in rejects} == {"says bad"}  # none from the old bug


def test_errors_spread_over_shards_add_up(runner):
    runner.write("bug.py", BUG)
    for k in range(4):  # 4 shards with 3 errors each: no shard reaches 10, the run does
        runner.write(f"{k}.jsonl", lines(6, bad_every=2, start=6 * k))
    with pytest.raises(RunFailed, match=r"raised on 12 records \(more than 10\)"):
        runner.run([{"path": "*.jsonl"}], steps=[{"custom": {"fn": "bug.py:boom"}}], workers=2)


def test_a_few_errors_are_rejects_with_a_warning(runner):
    runner.write("bug.py", BUG)
    runner.write("a.jsonl", lines(40, bad_every=4))  # 10 errors: the most a step may raise on
    stats, kept, rejects = runner.run([{"path": "a.jsonl"}], steps=[{"custom": {"fn": "bug.py:boom"}}])
    assert len(kept) == 30 and len(rejects) == 10
    assert rejects[0]["reason"] == "error in step (ZeroDivisionError: division by zero)"
    assert stats["steps"][1]["errors"] == 10
    assert any("raised on 10 records" in w for w in stats["warnings"])


def test_a_bad_value_stays_a_reject(runner):
    runner.write("picky.py", PICKY)
    runner.write("a.jsonl", lines(60, bad_every=2))  # 30 BadRecord: rejects, not a bug
    stats, kept, rejects = runner.run([{"path": "a.jsonl"}], steps=[{"custom": {"fn": "picky.py:picky"}}])
    assert len(kept) == 30 and len(rejects) == 30
    assert {r["reason"] for r in rejects} == {"the text says bad"} and stats["steps"][1]["errors"] == 0


def test_a_dedup_step_that_raises_stops_the_run(runner, monkeypatch):
    def broken(self, texts):
        raise KeyError("planted")

    monkeypatch.setattr(ExactDedup, "keys", broken)  # workers 1: the steps run in this process
    runner.write("a.jsonl", lines(5))
    with pytest.raises(
        RunFailed, match=r"step 'exact_dedup' raised KeyError: 'planted' on a batch from a.jsonl:1"
    ):
        runner.run([{"path": "a.jsonl"}], steps=["exact_dedup"])


def test_zero_kept_is_exit_1_naming_the_step(runner, capsys):
    runner.write("a.jsonl", lines(20))
    cfg = runner.config([{"path": "a.jsonl"}], steps=["normalize", {"length": {"min_words": 50}}])
    assert main(["prepare", str(cfg)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "kept 0 of 20 records: length dropped the most (20 of 20, top reason: too short (20))" in err
    out = runner.root / "out"
    stats = json.loads((out / "stats.json").read_text())  # written, so the user can look
    assert stats["accounting"]["ok"] and len((out / "rejects.jsonl").read_text().splitlines()) == 20


def test_a_step_dropping_over_half_warns_in_the_funnel(runner, capsys):
    runner.write("a.jsonl", lines(10) + "\n".join(json.dumps({"text": "short"}) for _ in range(11)) + "\n")
    cfg = runner.config([{"path": "a.jsonl"}], steps=[{"length": {"min_words": 2}}, "exact_dedup"])
    prepare(cfg)
    out = capsys.readouterr().out
    assert "warning: length dropped 11 of 21 records (52%), top reason: too short (11)" in out
    assert "warning: exact_dedup" not in out  # 0 of 10 dropped
    runner.write("a.jsonl", lines(10) + "\n".join(json.dumps({"text": "short"}) for _ in range(10)) + "\n")
    prepare(cfg)
    assert "warning" not in capsys.readouterr().out  # exactly half is not more than half


@pytest.mark.parametrize(
    ("min_kept", "fails"), [(0.5, True), (0.3, False), (7, True), (6, False), (None, False)]
)
def test_min_kept_share_or_count(runner, capsys, min_kept, fails):
    runner.write("a.jsonl", "\n".join(json.dumps({"text": "tiny"}) for _ in range(14)) + "\n" + lines(6))
    cfg = runner.config([{"path": "a.jsonl"}], steps=[{"length": {"min_words": 2}}], min_kept=min_kept)
    code = main(["prepare", str(cfg)])  # 6 of 20 kept: 30%
    err = capsys.readouterr().err
    if fails:
        assert code == 1 and f"kept 6 of 20 records, fewer than data.min_kept: {min_kept}" in err
        assert "length dropped the most (14 of 20, top reason: too short (14))" in err
    else:
        assert code == 0, err


def test_min_kept_out_of_range_is_a_config_error():
    with pytest.raises(UserError, match=r"data.min_kept: .*at most 1"):
        load_config(None, ["data.min_kept=1.5"])
    with pytest.raises(UserError, match=r"data.min_kept"):
        load_config(None, ["data.min_kept=-1"])


def test_ray_stops_on_a_step_bug_like_local(runner):
    pytest.importorskip("ray")
    runner.write("bug.py", BUG)
    runner.write("a.jsonl", lines(40, bad_every=2))
    runner.write("b.jsonl", lines(40, bad_every=2, start=40))
    steps = [{"custom": {"fn": "bug.py:boom"}}]
    ray_cfg = {"executor": "ray", "ray": {"num_cpus": 2}, "workers": 2}
    with pytest.raises(RunFailed) as e:
        runner.run([{"path": "*.jsonl"}], steps=steps, **ray_cfg)
    assert str(e.value).startswith("step 'custom (bug.py:boom)' raised on 11 records (more than 10)")


def test_custom_step_file_outside_the_yaml_folder_is_refused(tmp_path):
    from lmforge.data.steps.custom import load_callable
    from lmforge.errors import UserError

    outside = tmp_path / "elsewhere.py"
    outside.write_text("def fn(r):\n    return True\n")
    inside = tmp_path / "exp"
    inside.mkdir()
    (inside / "clean.py").write_text("def fn(r):\n    return True\n")
    assert load_callable("clean.py:fn", inside)({"text": "x"}) is True
    with pytest.raises(UserError, match="outside the YAML's folder"):
        load_callable("../elsewhere.py:fn", inside)


def test_hf_state_file_naming_a_file_outside_its_folder_is_refused(tmp_path):
    import json

    from lmforge.data.sources import hf_arrow_files
    from lmforge.errors import UserError

    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "../../etc/passwd"}]}))
    with pytest.raises(UserError, match="outside the folder"):
        hf_arrow_files(folder)


@pytest.mark.parametrize("home_writable", [True, False])
def test_an_unexpected_error_is_one_line_exit_1_with_the_traceback_in_a_log(
    runner, capsys, monkeypatch, tmp_path, home_writable
):
    # e.g. an output folder the user may not write to: not a bug report in the terminal
    import lmforge.data.prepare as prep

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(runner.root / "out" / "train.jsonl.tmp"))

    monkeypatch.setattr(prep, "assemble", denied)
    home = tmp_path / "home"
    if not home_writable:  # $LMFORGE_HOME is a file: the log goes to the temp dir
        home.write_text("")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("LMFORGE_HOME", str(home))
    runner.write("a.jsonl", lines(5))
    assert main(["prepare", str(runner.config([{"path": "a.jsonl"}]))]) == 1
    err = one_line_err(capsys)
    assert err.startswith("lmforge prepare: unexpected PermissionError: [Errno 13] Permission denied"), err
    log = err.rsplit("traceback in ", 1)[1].rstrip(")")
    assert log.startswith(str(home / "logs") if home_writable else str(tmp_path / "tmp")), log
    text = open(log, encoding="utf-8").read()
    assert text.startswith("Traceback") and "in denied" in text
