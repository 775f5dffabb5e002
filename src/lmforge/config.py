"""The experiment YAML as pydantic models: load a file, apply `a.b=c` overrides, validate in one place.

Every default below is the documented default (README, "YAML reference").
Relative input paths (data sources, eval files) are resolved against the YAML file's folder;
output folders are relative to the working directory.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from lmforge.errors import UserError


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------- data
class SourceConfig(Section):
    path: str  # file, folder or glob; relative to the YAML file
    format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet", "txt", "md", "html", "hf"] = "auto"
    unit: Literal["file", "line", "paragraph"] = "file"  # record unit for txt/md/html
    fields: dict[str, str] = Field(default_factory=dict)  # task field -> source field
    encoding_errors: Literal["repair", "reject"] = "repair"


class SplitConfig(Section):
    train: float = 0.9  # ratios (sum 1) or record counts (>= 1)
    val: float = 0.05
    test: float = 0.05
    stratify: str | None = None  # field to stratify by, e.g. "label"


StepSpec = str | dict[str, dict[str, Any] | None]


class StatsConfig(Section):
    top_k: int = Field(50, gt=0)  # words and co-occurring pairs listed in stats.json
    window: int = Field(5, gt=0)  # words apart that still count as co-occurring


class DataConfig(Section):
    sources: list[SourceConfig] = Field(default_factory=list)
    steps: list[StepSpec] = Field(default_factory=list)
    split: SplitConfig = Field(default_factory=SplitConfig)
    output_dir: str | None = None  # default: runs/<name>/data
    workers: int | None = None  # processes; None = all cores
    executor: Literal["local", "ray"] = "local"
    augment: dict[str, Any] | None = None
    stats: StatsConfig = Field(default_factory=StatsConfig)


# ---------------------------------------------------------------- task
class TaskConfig(Section):
    type: Literal["causal_lm", "sft", "classification", "qa", "summarization"] = "sft"
    head: Literal["lm", "classifier"] = "lm"  # classification only
    labels: list[str] | None = None  # classification label set; None = read from the train split
    template: str | None = None  # prompt template with {field} slots; None = the task's default
    chat_template: str | None = None  # Jinja chat template replacing the tokenizer's; saved with the model
    system: str | None = None  # system message added to every example
    train_on_prompt: bool = False
    truncate: Literal["left", "right", "drop"] = "right"


# ---------------------------------------------------------------- model
class LoraConfig(Section):
    r: int = Field(16, gt=0)
    alpha: float = 32
    dropout: float = Field(0.05, ge=0, lt=1)
    target: Literal["all-linear"] | list[str] = "all-linear"
    dora: bool = False


class ModelConfig(Section):
    name: str = "smollm2-135m-instruct"  # alias, local HF folder, .gguf file or hub id
    lora: LoraConfig | None = Field(default_factory=LoraConfig)  # None = full fine-tune
    trust_remote_code: bool = False
    quantize: Literal["4bit", "8bit"] | None = None  # QLoRA; needs CUDA + bitsandbytes


# ---------------------------------------------------------------- train
class EarlyStoppingConfig(Section):
    patience: int = Field(3, ge=1)  # evaluations without improvement of val loss
    min_delta: float = 0.0


class TrainConfig(Section):
    output_dir: str | None = None  # default: runs/<name>
    epochs: float = Field(1, gt=0)
    max_steps: int | None = Field(None, gt=0)  # optimizer steps; wins over epochs
    batch_size: int = Field(8, gt=0)  # per process
    grad_accum: int = Field(1, gt=0)
    lr: float = Field(2.0e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    scheduler: Literal["constant", "linear", "cosine"] = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    warmup_steps: int | None = Field(None, ge=0)  # wins over warmup_ratio
    max_grad_norm: float | None = 1.0
    max_seq_len: int = Field(512, gt=0)
    packing: bool = True
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    gradient_checkpointing: bool = False
    log_every: int = Field(10, gt=0)
    eval_every: int = Field(50, ge=0)  # 0 = only at the end
    save_every: int = Field(100, gt=0)
    keep: int = Field(2, ge=1)
    early_stopping: EarlyStoppingConfig | None = Field(default_factory=EarlyStoppingConfig)
    num_processes: int = Field(1, ge=1)
    distributed: Literal["ddp", "fsdp"] = "ddp"


# ---------------------------------------------------------------- eval, tune
class EvalConfig(Section):
    split: Literal["val", "test"] = "test"
    batch_size: int = Field(8, gt=0)
    generate_n: int = Field(32, ge=0)  # records sampled for generation metrics
    max_new_tokens: int = Field(128, gt=0)
    extra_metrics: list[Literal["bleu", "chrf"]] = Field(default_factory=list)


class TuneConfig(Section):
    space: dict[str, dict[str, Any]] = Field(default_factory=dict)
    n_trials: int = Field(10, gt=0)
    timeout: float | None = None  # seconds
    metric: str = "val_loss"
    direction: Literal["minimize", "maximize"] = "minimize"
    pruner: Literal["median", "hyperband", "none"] = "median"
    sampler: Literal["tpe", "random"] = "tpe"


class ExperimentConfig(Section):
    name: str = "experiment"
    seed: int = 42
    data: DataConfig = Field(default_factory=DataConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _fill_output_dirs(self) -> ExperimentConfig:
        if self.train.output_dir is None:
            self.train.output_dir = f"runs/{self.name}"
        if self.data.output_dir is None:
            self.data.output_dir = f"{self.train.output_dir}/data"
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


# ---------------------------------------------------------------- loading
def parse_override(item: str) -> tuple[list[str], Any]:
    """`train.lr=1e-4` -> (["train", "lr"], 0.0001); the value is a YAML scalar (or flow list/map)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"override '{item}' is not of the form key=value (e.g. train.lr=1e-4)")
    value = yaml.safe_load(raw) if raw.strip() else None
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 as a string
        try:
            value = float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            pass
    return key.strip().split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted key in the nested dict, creating sections that are absent or null."""
    for item in overrides:
        path, value = parse_override(item)
        node = raw
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                node = node[_list_index(node, part, item)]
                continue
            if path[i + 1].isdigit() and not isinstance(node.get(part), list):
                raise UserError(f"override '{item}': '{'.'.join(path[: i + 1])}' is not a list in the config")
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
        if isinstance(node, list):
            node[_list_index(node, path[-1], item)] = value
        else:
            node[path[-1]] = value
    return raw


def _list_index(node: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise UserError(f"override '{item}': '{part}' is not an index of a list of {len(node)}")
    return int(part)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read EXP.yaml (or only defaults when path is None), apply overrides, validate.

    >>> load_config(None, ["train.lr=1e-4"]).train.lr
    0.0001
    """
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"config file not found: {p}")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise UserError(f"{p}:{where} is not valid YAML ({getattr(e, 'problem', e)})") from None
        if not isinstance(raw, dict):
            raise UserError(f"{p}: the top level must be a mapping of sections (name, data, task, ...)")
        base = p.resolve().parent
    raw = apply_overrides(raw, overrides or [])
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(describe_validation_error(e, ExperimentConfig)) from None
    cfg._base_dir = base
    return cfg


def describe_validation_error(err: ValidationError, root: type[BaseModel]) -> str:
    """One line for the first error: the dotted key, what is wrong, and the nearest valid key."""
    first = err.errors()[0]
    loc = [str(x) for x in first["loc"] if not _is_union_tag(x)]
    key = ".".join(loc)
    if first["type"] == "extra_forbidden":
        valid = _valid_keys(root, loc[:-1])
        near = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
        hint = (
            f"; did you mean '{'.'.join(loc[:-1] + near)}'?" if near else f"; valid keys: {', '.join(valid)}"
        )
        return f"config error: unknown key '{key}'{hint}"
    got = first.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"config error: {key}: {first['msg']}{shown}"


def _is_union_tag(x: Any) -> bool:
    # pydantic puts the union member in the location, e.g. ('model', 'lora', 'LoraConfig', 'rr')
    return isinstance(x, str) and (x[:1].isupper() or x.startswith(("list[", "dict[", "literal[")))


def _valid_keys(root: type[BaseModel], loc: list[str]) -> list[str]:
    model: Any = root
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _section_type(field.annotation)
    return list(getattr(model, "model_fields", {}))


def _section_type(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
