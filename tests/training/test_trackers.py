"""`train.report_to`: the real MLflow and W&B (offline) get what metrics.jsonl has, resume continues the
same tracker runs, a tune study is a parent run with child runs, a failing tracker costs only a warning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from train_helpers import fake_examples, make_cfg, stand_in_collate, write_sft_project

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves this machine in tests
os.environ.setdefault("WANDB_ERROR_REPORTING", "false")

from lmforge.config import load_config  # noqa: E402
from lmforge.errors import UserError  # noqa: E402
from lmforge.training.run import train  # noqa: E402
from lmforge.training.wandb_offline import records  # noqa: E402  (the .wandb file's protobuf records)

ALL = "train.report_to=[tensorboard,mlflow,wandb]"
STATS = {  # a data funnel as `lmforge prepare` writes it in stats.json
    "read": 50,
    "steps": [{"step": "read", "in": 50, "out": 49}, {"step": "length", "in": 49, "out": 48}],
    "accounting": {"read": 50, "kept": 48, "rejected": 2, "ok": True},
}


@pytest.fixture(autouse=True)
def not_logged_in(monkeypatch, tmp_path):
    """No W&B key, no netrc, no tracking server: MLflow stores locally, W&B runs offline."""
    for name in (
        "WANDB_API_KEY",
        "WANDB_MODE",
        "WANDB_PROJECT",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    from lmforge.training import tracker_backends

    monkeypatch.setattr(tracker_backends, "_told_offline", False)


def rows_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def mlflow_client(run_dir: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlflow' / 'mlflow.db'}")


def mlflow_runs(client) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments)


def history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def expected_history(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return sorted((r["step"], float(r[key])) for r in rows if r.get(key) is not None)


def wandb_history(root: Path) -> tuple[list[dict], dict, dict, list[str]]:
    """(history rows, summary, config, run ids) over every offline run folder under root/wandb, oldest first."""
    rows, summary, config, ids = [], {}, {}, []
    for path in sorted(root.glob("wandb/offline-run-*/run-*.wandb")):
        for r in records(path):
            kind = r.WhichOneof("record_type")
            if kind == "run":
                ids.append(r.run.run_id)
                config.update({i.key: json.loads(i.value_json) for i in r.run.config.update})
            elif kind == "config":
                config.update({i.key: json.loads(i.value_json) for i in r.config.update})
            elif kind == "history":
                rows.append(
                    {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
                )
            elif kind == "summary":
                summary.update(
                    {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.summary.update}
                )
    return rows, summary, {k: v for k, v in config.items() if not k.startswith("_wandb")}, ids


def flat_config(run_dir: Path) -> dict:
    """config.yaml flattened to dotted keys (written here independently of lmforge's own flatten)."""

    def walk(tree, prefix=""):
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    return dict(walk(yaml.safe_load((run_dir / "config.yaml").read_text())))


def test_mlflow_and_wandb_get_what_metrics_jsonl_has(tiny_llama, tmp_path, capsys):
    from lmforge.cli import main

    exp = write_sft_project(tmp_path, tiny_llama, report_to=["tensorboard", "mlflow", "wandb"])
    (tmp_path / "data" / "stats.json").write_text(json.dumps(STATS))
    evals = ["eval.split=val", "eval.generate_n=2", "eval.max_new_tokens=4"]
    assert main(["train", str(exp)]) == 0  # the CLI: report.html is written, then sent to the trackers
    assert main(["eval", str(exp), *evals]) == 0
    result = json.loads((tmp_path / "run" / "eval.json").read_text())
    run_dir = tmp_path / "run"
    rows = rows_of(run_dir)
    keys = {k for r in rows for k in r} - {"step"}
    assert {"loss", "lr", "tokens_per_s", "peak_mem_mb", "val_loss", "epoch"} <= keys

    client = mlflow_client(run_dir)
    [run] = mlflow_runs(client)
    assert run.info.status == "FINISHED" and run.info.run_name == "t"
    flat = flat_config(run_dir)
    assert run.data.params == {k: v if isinstance(v, str) else json.dumps(v) for k, v in flat.items()}
    for key in keys:
        assert history(client, run.info.run_id, key) == expected_history(rows, key), key
    m = run.data.metrics
    assert (m["data/01_length/read"], m["data/01_length/kept"], m["data/01_length/rejected"]) == (49, 48, 1)
    assert (
        m["final/steps"] == 6 and m["final/val_loss"] == rows[-1]["val_loss"] and m["final/peak_mem_mb"] > 0
    )
    for side in ("base", "finetuned"):
        assert {k: m[f"eval/{side}/{k}"] for k in result[side]} == pytest.approx(result[side], rel=1e-12)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.jsonl", "eval.json", "report.html"} <= artifacts

    history_rows, summary, config, ids = wandb_history(run_dir)
    assert len(set(ids)) == 1  # the eval continued the training's run
    assert [{k: v for k, v in r.items() if not k.startswith("_")} for r in history_rows] == [
        {k: v for k, v in r.items() if k != "step" and v is not None}
        for r in rows  # trackers get numbers
    ]
    assert [r["_step"] for r in history_rows] == [r["step"] for r in rows]
    assert config == flat
    assert summary["final/steps"] == 6 and summary["data/total/rejected"] == 2
    assert summary["eval/finetuned/loss"] == pytest.approx(result["finetuned"]["loss"], rel=1e-12)
    assert list(run_dir.glob("wandb/offline-run-*/files/config.yaml"))
    assert list(run_dir.glob("wandb/offline-run-*/files/report.html"))
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    out = capsys.readouterr().out
    assert out.count("wandb is not logged in") == 1 and "wandb sync" in out  # said once, with the way up


CHILD = """
import sys, time
sys.path.insert(0, sys.argv[3])
from train_helpers import fake_examples, make_cfg, stand_in_collate
from lmforge.training.run import train
cfg = make_cfg(sys.argv[1], sys.argv[2], "train.max_steps=12", "train.save_every=3", "train.eval_every=4",
               "train.report_to=[tensorboard,mlflow,wandb]")
def slow(run, row):  # time for the test to kill the run after checkpoint step-6 and tracker step 8
    if run.state.step >= 6 and "--resume" not in sys.argv:
        time.sleep(0.4)
train(cfg, resume="--resume" in sys.argv, data=(fake_examples(40, 250, 5), fake_examples(8, 250, 6)),
      collate=stand_in_collate, callbacks=[slow])
"""


def _child(model: str, out: Path, *extra: str) -> subprocess.Popen:
    # its own wandb-core, killed with it: not this test process's service (WANDB_SERVICE, set by an earlier test)
    env = {**{k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-c", CHILD, model, str(out), str(Path(__file__).parent), *extra]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def test_kill9_then_resume_continues_the_same_tracker_runs(tiny_llama, tmp_path):
    out = tmp_path / "run"
    proc = _child(tiny_llama, out)
    deadline = time.time() + 300

    def logged() -> int:  # the last step the killed run gave MLflow (past the checkpoint it resumes from)
        state = out / "trackers.json"
        return json.loads(state.read_text())["mlflow"]["last_step"] if state.is_file() else -1

    while (not (out / "checkpoints" / "step-6").exists() or logged() < 8) and proc.poll() is None:
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read()
    resumed = _child(tiny_llama, out, "--resume")
    assert resumed.wait() == 0, resumed.stderr.read()[-3000:]

    rows = rows_of(out)
    assert [r["step"] for r in rows] == list(range(13))
    client = mlflow_client(out)
    [run] = mlflow_runs(client)  # one run, continued
    assert run.info.status == "FINISHED"
    for key in ("loss", "val_loss", "lr"):
        got = history(client, run.info.run_id, key)
        assert [s for s, _ in got] == sorted({s for s, _ in got}), key  # no step twice
        assert got == expected_history(rows, key), key  # steps 7-8 from the killed run: resume is bit-exact

    # two offline folders of one run id (`wandb sync` joins them); wandb-core buffers its file, so the
    # killed folder may hold nothing: the resumed run logs again what is not on disk, and nothing twice
    history_rows, _, config, ids = wandb_history(out)
    folders = sorted(out.glob("wandb/offline-run-*"))
    assert len(folders) == 2 and len({f.name.split("-")[-1] for f in folders} | set(ids)) == 1
    assert [r["_step"] for r in history_rows] == list(range(13))
    assert [r["loss"] for r in history_rows if r.get("loss") is not None] == [
        r["loss"] for r in rows if r.get("loss") is not None
    ]
    assert config["train.max_steps"] == 12  # the config too, when the killed folder lost it


def test_tune_study_is_a_parent_run_with_trial_children(tiny_gpt2, tmp_path):
    from lmforge.tuning import tune

    exp = write_sft_project(tmp_path, tiny_gpt2, report_to=["mlflow", "wandb"], max_steps=4, eval_every=2)
    raw = json.loads(exp.read_text())
    raw["tune"] = {"space": {"train.lr": {"choice": [1e-4, 3e-3]}}, "n_trials": 2, "sampler": "random"}
    raw["model"]["lora"] = None
    exp.write_text(json.dumps(raw))
    result = tune(load_config(exp))

    client = mlflow_client(tmp_path / "run")
    runs = mlflow_runs(client)
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2
    assert sorted(r.info.run_name for r in children) == ["trial-0", "trial-1"]
    [best] = [r for r in children if r.data.tags.get("best") == "true"]
    assert best.info.run_name == f"trial-{result['best_trial']}"
    assert float(best.data.params["train.lr"]) == result["best_params"]["train.lr"]
    assert parent.data.metrics["best_value"] == pytest.approx(result["best_value"])
    assert parent.data.tags["best_trial"] == str(result["best_trial"])
    assert parent.info.status == best.info.status == "FINISHED"
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}  # KILLED: a pruned trial

    # W&B has no parent runs: the study and its trials are one group, the best trial tagged
    runs = [r.run for p in (tmp_path / "run/tune").glob("wandb/*/run-*.wandb") for r in records(p)]
    runs = [r for r in runs if r.run_id]
    assert len({r.run_group for r in runs}) == 1 and {r.job_type for r in runs} == {"study", "trial"}
    assert {r.display_name for r in runs} == {"t-tune", "trial-0", "trial-1"}
    [tagged] = {r.display_name for r in runs if "best" in r.tags}
    assert tagged == f"trial-{result['best_trial']}"


def test_a_tracker_failing_mid_run_is_one_warning(tiny_llama, tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    real = MlflowClient.log_batch
    calls = {"n": 0}

    def disk_full(self, *args, **kwargs):  # the store's disk fills up after a few rows
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", disk_full)
    out = tmp_path / "run"
    cfg = make_cfg(tiny_llama, str(out), "train.max_steps=8", "train.report_to=[mlflow,wandb]")
    metrics = train(cfg, data=(fake_examples(40, 250, 1), fake_examples(8, 250, 2)), collate=stand_in_collate)
    assert metrics["steps"] == 8 and (out / "final").is_dir()
    err = capsys.readouterr().err
    assert err.count("lmforge: warning: mlflow failed (OSError") == 1 and "No space left" in err
    assert [r["_step"] for r in wandb_history(out)[0]] == [r["step"] for r in rows_of(out)]  # W&B kept on


def test_missing_tracker_is_one_user_error_naming_the_extra(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed: find_spec returns None
    cfg = make_cfg(tiny_llama, str(tmp_path / "run"), "train.report_to=[wandb]")
    with pytest.raises(UserError, match=r"wandb is not installed \(pip install 'lmforge\[wandb\]'\)"):
        train(cfg, data=(fake_examples(8, 250), []), collate=stand_in_collate)
    assert not (tmp_path / "run").exists()


def test_report_to_defaults_and_unknown_names():
    assert load_config(None, []).train.report_to == ["tensorboard"]
    with pytest.raises(UserError, match="train.report_to"):
        load_config(None, ["train.report_to=[neptune]"])
