import subprocess
import sys

import pytest

from lmforge.cli import main
from lmforge.config import ExperimentConfig, apply_overrides, load_config, parse_override
from lmforge.errors import UserError

EXAMPLE = """
name: support-bot
seed: 7
data:
  sources:
    - {path: "raw/*.jsonl", fields: {prompt: question, response: answer}}
    - {path: "docs/**/*.html", format: html, unit: file}
  steps:
    - fix_unicode
    - {length: {min_words: 3}}
    - {near_dedup: {threshold: 0.8}}
  split: {train: 0.9, val: 0.05, test: 0.05, stratify: null}
task: {type: sft}
model:
  name: smollm2-135m-instruct
  lora: {r: 8, alpha: 16, dropout: 0.0, target: all-linear}
train: {epochs: 2, batch_size: 4, lr: 1.0e-4, early_stopping: {patience: 2}}
"""


@pytest.fixture
def exp(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(EXAMPLE)
    return path


def test_loads_product_example(exp):
    cfg = load_config(exp)
    assert cfg.name == "support-bot" and cfg.seed == 7
    assert cfg.data.sources[0].fields == {"prompt": "question", "response": "answer"}
    assert cfg.data.sources[1].format == "html"
    assert cfg.data.steps[2] == {"near_dedup": {"threshold": 0.8}}
    assert cfg.model.lora.r == 8 and cfg.train.lr == 1e-4 and cfg.train.early_stopping.patience == 2
    assert cfg.train.output_dir == "runs/support-bot" and cfg.data.output_dir == "runs/support-bot/data"
    assert cfg.resolve_input("raw/a.jsonl") == exp.parent / "raw/a.jsonl"


def test_defaults_match_product():
    cfg = ExperimentConfig()
    assert cfg.model.name == "smollm2-135m-instruct" and cfg.task.type == "sft"
    assert (cfg.train.batch_size, cfg.train.grad_accum, cfg.train.lr) == (8, 1, 2.0e-4)
    assert (cfg.model.lora.r, cfg.model.lora.alpha, cfg.model.lora.target) == (16, 32, "all-linear")
    assert cfg.train.scheduler == "cosine" and cfg.train.packing is True and cfg.data.executor == "local"


@pytest.mark.parametrize(
    ("item", "path", "value"),
    [
        ("train.lr=1e-4", ["train", "lr"], 1e-4),
        ("train.batch_size=4", ["train", "batch_size"], 4),
        ("train.packing=false", ["train", "packing"], False),
        ("model.lora=null", ["model", "lora"], None),
        ("name=my run", ["name"], "my run"),
        ("model.lora.target=[q_proj, v_proj]", ["model", "lora", "target"], ["q_proj", "v_proj"]),
    ],
)
def test_parse_override(item, path, value):
    assert parse_override(item) == (path, value)


def test_list_index_out_of_range(exp):
    with pytest.raises(UserError, match="'7' is not an index of a list of 3"):
        load_config(exp, ["data.steps.7=normalize"])


def test_overrides_apply_and_validate(exp):
    cfg = load_config(exp, ["train.lr=3e-5", "model.lora=null", "data.steps.0=normalize", "seed=1"])
    assert cfg.train.lr == 3e-5 and cfg.model.lora is None and cfg.data.steps[0] == "normalize"
    assert cfg.seed == 1


def test_override_creates_section_that_was_null():
    raw = apply_overrides({"model": {"lora": None}}, ["model.lora.r=4"])
    assert raw == {"model": {"lora": {"r": 4}}}
    assert load_config(None, ["model.lora=null", "model.lora.r=4"]).model.lora.r == 4


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["trian.lr=1"], "unknown key 'trian'; did you mean 'train'?"),
        (["train.learning_rate=1"], "unknown key 'train.learning_rate'"),
        (["train.bacth_size=4"], "unknown key 'train.bacth_size'; did you mean 'train.batch_size'?"),
        (["model.lora.rr=4"], "unknown key 'model.lora.rr'; did you mean 'model.lora.r'?"),
        (["train.lr=fast"], "train.lr: Input should be a valid number"),
        (["train.batch_size=0"], "train.batch_size: Input should be greater than 0"),
        (["task.type=chat"], "task.type: Input should be 'causal_lm', 'sft'"),
        (["train.lr"], "is not of the form key=value"),
        (["data.steps.5=normalize"], "'data.steps' is not a list in the config"),
    ],
)
def test_config_errors_are_one_line(overrides, expected):
    with pytest.raises(UserError) as err:
        load_config(None, overrides)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_every_problem_is_listed_once(tmp_path):
    """A config with three mistakes names all three in one run, the first line in the one-line form."""
    path = tmp_path / "exp.yaml"
    path.write_text("train:\n  epochs: many\n  batch_size: -2\n  warmup_ration: 0.1\n")
    with pytest.raises(UserError) as err:
        load_config(path)
    lines = str(err.value).splitlines()
    assert lines[0].startswith("config error: train.epochs: Input should be a valid number")
    assert lines[1:] == [
        "  also: train.batch_size: Input should be greater than 0 (got -2)",
        "  also: unknown key 'train.warmup_ration'; did you mean 'train.warmup_ratio'?",
    ]


def test_nested_unknown_key_in_file(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("train:\n  epochs: 1\n  warmup_ration: 0.1\n")
    with pytest.raises(
        UserError, match=r"unknown key 'train.warmup_ration'; did you mean 'train.warmup_ratio'\?"
    ):
        load_config(path)


def test_file_errors(tmp_path):
    with pytest.raises(UserError, match="config file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(UserError, match="top level must be a mapping"):
        load_config(scalar)


def test_cli_config_error_exits_2_with_one_line(exp, capsys):
    exp.write_text(EXAMPLE.replace("batch_size: 4", "bach_size: 4"))
    assert main(["config", str(exp)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "train.bach_size" in err and "train.batch_size" in err


def test_cli_missing_file_and_success(exp, tmp_path, capsys):
    assert main(["config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main(["config", str(exp), "train.lr=5e-5"]) == 0
    assert "lr: 5.0e-05" in capsys.readouterr().out


def test_console_script_has_no_traceback_on_user_error(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("modle: {name: x}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "lmforge.cli", "config", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "unknown key 'modle'; did you mean 'model'?" in proc.stderr


def test_unquoted_on_in_step_options(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("data:\n  steps:\n    - {pii: {action: drop, on: [response]}}\n    - exact_dedup\n")
    assert load_config(path).data.steps == [{"pii": {"action": "drop", "on": ["response"]}}, "exact_dedup"]
