"""The experiment YAML as pydantic models, one file per section group; every default is the documented default.

>>> from lmforge.config import load_config
>>> load_config(None, ["train.lr=1e-4"]).train.lr
0.0001
"""

from lmforge.config.base import Section
from lmforge.config.data import AugmentConfig, DataConfig, SourceConfig, SplitConfig, StatsConfig
from lmforge.config.experiment import ExperimentConfig
from lmforge.config.load import (
    apply_overrides,
    describe_validation_error,
    load_config,
    parse_override,
    save_config,
)
from lmforge.config.model import LoraConfig, ModelConfig, TaskConfig
from lmforge.config.training import EvalConfig, TrainConfig, TuneConfig

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "EvalConfig",
    "ExperimentConfig",
    "LoraConfig",
    "ModelConfig",
    "Section",
    "SourceConfig",
    "SplitConfig",
    "StatsConfig",
    "TaskConfig",
    "TrainConfig",
    "TuneConfig",
    "apply_overrides",
    "describe_validation_error",
    "load_config",
    "parse_override",
    "save_config",
]
