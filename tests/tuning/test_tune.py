"""`lmforge tune` on the tiny GPT-2: pruning/ranking of a bad trial, best.yaml, resume after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from lmforge.cli import main
from lmforge.config import load_config
from lmforge.errors import UserError
from lmforge.tuning import tune


def write_splits(root, n=40):
    """A prepared SFT dataset as `lmforge prepare` writes it (train/val/test jsonl)."""
    cities = ["Paris", "Berlin", "Rome", "Madrid", "Oslo", "Vienna"]
    rows = [
        {"id": f"t:{i}", "meta": {}, "prompt": f"Where is office {i}?", "response": f"In {cities[i % 6]}."}
        for i in range(n)
    ]
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for split, part in (("train", rows[:-16]), ("val", rows[-16:-8]), ("test", rows[-8:])):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))


SPACE = {"train.lr": {"log_uniform": [1e-4, 1e-2]}, "train.weight_decay": {"uniform": [0, 0.1]}}


def write_exp(tmp_path, model, n_trials=4, **extra):
    write_splits(tmp_path)
    exp = {
        "name": "tune-test",
        "task": {"type": "sft"},
        "model": {"name": model, "lora": None},
        "data": {"output_dir": str(tmp_path / "data")},
        "train": {
            "output_dir": str(tmp_path / "run"),
            "max_steps": 6,
            "batch_size": 4,
            "eval_every": 2,
            "save_every": 1000,
            "log_every": 2,
            "max_seq_len": 64,
            "precision": "fp32",
            "warmup_ratio": 0,
        },
        "tune": {"space": SPACE, "n_trials": n_trials, **extra},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(json.dumps(exp))
    return path


def test_absurd_learning_rate_is_pruned_or_last(tiny_gpt2, tmp_path):
    exp = write_exp(tmp_path, tiny_gpt2)
    cfg = load_config(exp)
    (tmp_path / "run" / "tune").mkdir(parents=True)
    study = optuna.create_study(study_name="tune-test", storage=f"sqlite:///{tmp_path / 'run/tune/study.db'}")
    for lr in (3e-3, 1e-3, 50.0):  # run first, in this order; the fourth is sampled
        study.enqueue_trial({"train.lr": lr, "train.weight_decay": 0.0})
    result = tune(cfg)
    rows = {r["number"]: r for r in result["trials"]}
    assert len(rows) == 4
    absurd = rows[2]
    finished = sorted(r["value"] for r in rows.values() if r["state"] == "COMPLETE")
    assert absurd["state"] == "PRUNED" or absurd["value"] == finished[-1]
    assert result["best_trial"] != 2
    assert (tmp_path / "run/tune/history.png").stat().st_size > 1000

    best = load_config(tmp_path / "run/tune/best.yaml", [f"train.output_dir={tmp_path / 'best-run'}"])
    assert best.train.lr == pytest.approx(result["best_params"]["train.lr"])
    assert (
        main(["train", str(tmp_path / "run/tune/best.yaml"), f"train.output_dir={tmp_path / 'best-run'}"])
        == 0
    )
    assert (tmp_path / "best-run/final").is_dir()


def test_killed_study_resumes_without_repeating(tiny_gpt2, tmp_path):
    exp = write_exp(tmp_path, tiny_gpt2, n_trials=3, sampler="random")
    raw = json.loads(exp.read_text())
    raw["train"]["max_steps"] = 30  # long enough that trial 1 is still running when it is killed
    exp.write_text(json.dumps(raw))
    cmd = [sys.executable, "-m", "lmforge.cli", "tune", str(exp)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = tmp_path / "run/tune/trial-1"  # made when trial 1 starts training
    deadline = time.time() + 300
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert marker.exists(), "trial 1 never started"
    storage = f"sqlite:///{tmp_path / 'run/tune/study.db'}"
    before = optuna.load_study(study_name="tune-test", storage=storage).trials
    assert [t.state.name for t in before] == ["COMPLETE", "RUNNING"]
    done_before = (tmp_path / "run/tune/trial-0/final/lmforge.json").stat().st_mtime_ns

    assert main(["tune", str(exp)]) == 0
    after = optuna.load_study(study_name="tune-test", storage=storage).trials
    states = [t.state.name for t in after]
    assert states.count("COMPLETE") + states.count("PRUNED") == 3
    assert states[0] == "COMPLETE" and after[0].value == before[0].value  # not repeated
    assert states[1] == "FAIL"  # the killed one, retried as a new trial with the same parameters
    assert before[1].params in [t.params for t in after[2:]]
    assert (tmp_path / "run/tune/trial-0/final/lmforge.json").stat().st_mtime_ns == done_before
    assert (tmp_path / "run/tune/best.yaml").is_file()


def test_bad_space_is_a_user_error(tiny_gpt2, tmp_path):
    write_exp(tmp_path, tiny_gpt2)
    cfg = load_config(tmp_path / "exp.yaml", ["tune.space={train.lr: {normal: [0, 1]}}"])
    with pytest.raises(UserError, match="tune.space.train.lr: expected one of log_uniform"):
        tune(cfg)
    cfg = load_config(tmp_path / "exp.yaml", ["tune.space={train.lrr: {choice: [0.1]}}"])
    with pytest.raises(UserError, match="unknown key 'train.lrr'; did you mean 'train.lr'"):
        tune(cfg)


def _write_classification(root, n=36):
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    words = {"pos": "great lovely", "neg": "awful broken"}
    rows = [
        {"id": f"c:{i}", "meta": {}, "text": f"item {i} was {words[lab]}", "label": lab}
        for i, lab in enumerate(["pos", "neg"] * (n // 2))
    ]
    for split, part in (("train", rows[:-12]), ("val", rows[-12:-6]), ("test", rows[-6:])):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))


def test_a_study_on_accuracy_is_not_judged_by_a_val_loss_pruner(tiny_gpt2, tmp_path):
    """The pruner sees val loss; with metric accuracy (maximize) it would prune the best trials: refused."""
    exp = write_exp(tmp_path, tiny_gpt2, n_trials=2, metric="accuracy", direction="maximize")
    _write_classification(tmp_path)
    code = main(["tune", str(exp), "task.type=classification", "train.max_seq_len=256"])
    assert code == 2
    cfg = load_config(
        exp, ["task.type=classification", "tune.pruner=none", "train.max_steps=2", "train.max_seq_len=256"]
    )
    result = tune(cfg)
    assert [t["state"] for t in result["trials"]] == ["COMPLETE", "COMPLETE"]  # none pruned
    assert 0.0 <= result["best_value"] <= 1.0  # an accuracy, not a loss
    with pytest.raises(UserError, match="direction: minimize"):
        tune(load_config(exp, ["tune.metric=val_loss", "tune.direction=maximize"]))
