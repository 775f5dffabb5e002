"""docs/yaml-reference.md is generated from the config models; the committed copy must be current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pydantic import Field

from lmforge.config import ExperimentConfig, Section

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("yaml_reference", ROOT / "scripts" / "yaml_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_is_current(ref):
    assert ref.main(["--check"]) == 0, "docs/yaml-reference.md is stale: run python scripts/yaml_reference.py"


def test_check_fails_on_a_stale_file(ref, tmp_path, monkeypatch):
    stale = tmp_path / "yaml-reference.md"
    stale.write_text(ref.render().replace("Peak learning rate.", "Learning rate."), encoding="utf-8")
    monkeypatch.setattr(ref, "OUT", stale)
    assert ref.main(["--check"]) == 1
    assert ref.main([]) == 0 and ref.main(["--check"]) == 0


def test_every_key_is_listed_with_default_and_meaning(ref):
    keys = {row[0]: row for row in ref.rows(ExperimentConfig)}

    def walk(model, prefix=""):
        for name, field in model.model_fields.items():
            section, many = ref.section_of(field.annotation)
            yield f"{prefix}{name}"
            if section is not None:
                yield from walk(section, f"{prefix}{name}{'[]' if many else ''}.")

    assert set(walk(ExperimentConfig)) == set(keys)
    assert keys["train.lr"][1:3] == ("float", "`0.0002`")
    assert keys["data.sources[].path"][2] == "(required)"
    assert keys["task.head"][1] == "`lm` \\| `classifier`"
    assert "Must be > 0" in keys["train.batch_size"][3]
    text = ref.render()
    assert "| `model.lora.r` | int | `16` | LoRA rank. Must be > 0. |" in text


def test_a_field_without_description_is_an_error(ref):
    class Bare(Section):
        knob: int = Field(3)

    with pytest.raises(SystemExit, match="Bare.knob has no description"):
        ref.rows(Bare)
