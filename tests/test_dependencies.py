"""The installed packages satisfy pyproject's floors (so the floors are versions CI really ran)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_installed_versions_satisfy_the_declared_floors():
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    bad = []
    for line in deps:
        req = Requirement(line)
        version = importlib.metadata.version(req.name)
        if not req.specifier.contains(version.split("+")[0], prereleases=True):
            bad.append(f"{req} (installed {version})")
    assert bad == []


def test_the_floors_the_code_needs():
    deps = {
        Requirement(d).name: Requirement(d)
        for d in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    }
    assert not deps["torch"].specifier.contains("2.5.1")  # fully_shard (FSDP2) is public from 2.6
    assert not deps["transformers"].specifier.contains("4.57.0")  # the code targets transformers 5
