import subprocess
import sys

import pytest

from lmforge.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: lmforge" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "command" in capsys.readouterr().out


def test_unknown_command_is_usage_error():
    proc = subprocess.run([sys.executable, "-m", "lmforge.cli", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_doctor_reports_environment(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for key in (
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "torch threads",
        "bf16 on cpu",
        "built-in model",
    ):
        assert key in out


@pytest.mark.slow
def test_demo_answers_with_builtin_model(capsys):
    assert main(["demo"]) == 0
    assert "Paris" in capsys.readouterr().out
