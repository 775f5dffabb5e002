"""The whole experiment YAML: one section per stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from lmforge.config.base import Section
from lmforge.config.data import DataConfig
from lmforge.config.model import ModelConfig, TaskConfig
from lmforge.config.training import EvalConfig, TrainConfig, TuneConfig


class ExperimentConfig(Section):
    name: str = Field("experiment", description="Experiment name; output folders default to runs/<name>.")
    seed: int = Field(42, description="Seed for the split, sampling, initialisation and data order.")
    data: DataConfig = Field(
        default_factory=DataConfig, description="Raw inputs, cleaning steps and the split (lmforge prepare)."
    )
    task: TaskConfig = Field(
        default_factory=TaskConfig, description="What the model learns and how records become prompts."
    )
    model: ModelConfig = Field(
        default_factory=ModelConfig, description="The pretrained model and the adapter."
    )
    train: TrainConfig = Field(
        default_factory=TrainConfig, description="Optimisation, sequence length, logging and checkpoints."
    )
    eval: EvalConfig = Field(default_factory=EvalConfig, description="What lmforge eval scores.")
    tune: TuneConfig = Field(default_factory=TuneConfig, description="Hyper-parameter search (lmforge tune).")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _fill_output_dirs(self) -> ExperimentConfig:
        if self.train.output_dir is None:
            self.train.output_dir = f"runs/{self.name}"
        if self.data.output_dir is None:
            self.data.output_dir = f"{self.train.output_dir}/data"
        return self

    @model_validator(mode="after")
    def _objective_fits_task(self) -> ExperimentConfig:
        preference = self.task.type == "preference"
        wants = {"preference": ("dpo", "ipo", "orpo", "simpo", "kto"), "rl": ("grpo",)}.get(
            self.task.type, ("sft",)
        )
        if self.train.objective not in wants:
            raise ValueError(
                f"train.objective: {self.train.objective} does not fit task.type: {self.task.type} "
                "(dpo, ipo, orpo, simpo and kto train task.type: preference; grpo trains task.type: rl; sft trains "
                "the other tasks)"
            )
        if self.data.pairs is not None and (not preference or self.train.objective == "kto"):
            raise ValueError(
                "data.pairs makes chosen/rejected pairs: it needs task.type: preference (not kto)"
            )
        return self

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    def resolve_input(self, path: str | Path) -> Path:
        """A relative input path is relative to the YAML file: `raw/a.jsonl` -> `<yaml dir>/raw/a.jsonl`."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._base_dir / p

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
