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
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from lmforge.errors import UserError


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------- data
class RayConfig(Section):
    address: str | None = Field(
        None,
        description="Ray cluster for data.executor: ray: auto (the cluster this machine joined with `ray start`), ray://host:port, or null = start a local Ray for this run.",
    )
    num_cpus: int | None = Field(
        None,
        gt=0,
        description="CPUs of the local Ray started when address is null; null = data.workers, else all cores.",
    )


class SourceConfig(Section):
    path: str = Field(
        description="File, folder (read recursively) or glob of raw input; relative to the YAML file."
    )  # file, folder or glob; relative to the YAML file
    format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet", "txt", "md", "html", "hf"] = Field(
        "auto",
        description="Input format; auto goes by the file extension (a folder with state.json is a Hugging Face save_to_disk folder).",
    )
    unit: Literal["file", "line", "paragraph"] = Field(
        "file", description="What one record is for txt/md/html input: a whole file, a line, or a paragraph."
    )  # record unit for txt/md/html
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Task field -> source field, e.g. {prompt: question}; other source fields go to meta.extra.",
    )  # task field -> source field
    encoding_errors: Literal["repair", "reject"] = Field(
        "repair",
        description="Bytes that are not UTF-8: repair (decode as cp1252, then ftfy) or reject the record.",
    )


class SplitConfig(Section):
    train: float = Field(
        0.9,
        description="Share of records for train (ratios summing to 1), or a record count when the three sum to more than 1.",
    )  # ratios (sum 1) or record counts (>= 1)
    val: float = Field(0.05, description="Share (or count) of records for validation.")
    test: float = Field(0.05, description="Share (or count) of records for the held-out test split.")
    stratify: str | None = Field(
        None,
        description="Field (task field or meta key) to stratify by, e.g. label; null = no stratification.",
    )  # field to stratify by, e.g. "label"


StepSpec = str | dict[str, dict[str, Any] | None]


class StatsConfig(Section):
    top_k: int = Field(
        50, gt=0, description="Words and co-occurring word pairs listed in stats.json."
    )  # words and co-occurring pairs listed in stats.json
    window: int = Field(
        5, gt=0, description="How many words apart two words may be and still count as co-occurring."
    )  # words apart that still count as co-occurring


class EdaConfig(Section):
    n: int = Field(1, ge=0, description="Edited copies made per train record; 0 = none.")
    synonym: float = Field(0.1, ge=0, le=1, description="Share of words replaced by a synonym.")
    insert: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of words for which a synonym of a word is inserted at a random place.",
    )
    swap: float = Field(0.1, ge=0, le=1, description="Share of words swapped with another word.")
    delete: float = Field(0.1, ge=0, le=1, description="Chance that each word is deleted.")
    synonyms: str | None = Field(
        None,
        description="JSON file {word: [synonyms]} replacing the small built-in English table; relative to the YAML.",
    )


class ParaphraseConfig(Section):
    n: int = Field(1, ge=0, description="Paraphrases generated per train record; 0 = none.")
    model: str = Field(
        "smollm2-135m-instruct", description="Model that writes the paraphrases: an alias, folder or run."
    )
    prompt: str = Field(
        "Rewrite this text in other words, keeping its meaning, tone and language; "
        "reply with the rewritten text only: {text}",
        description="User message sent to the model; {text} is the field being paraphrased.",
    )
    temperature: float = Field(
        0.8, ge=0, description="Sampling temperature; 0 = greedy (then n > 1 repeats itself)."
    )
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(
        96, gt=0, description="Longest paraphrase, in tokens; unfinished ones are rejected."
    )
    batch_size: int = Field(8, gt=0, description="Prompts generated together.")


class AugmentConfig(Section):
    eda: EdaConfig | None = Field(
        None, description="Token edits (synonym, insert, swap, delete); null = off."
    )
    paraphrase: ParaphraseConfig | None = Field(None, description="Paraphrases by an LLM; null = off.")
    fields: list[str] | None = Field(
        None,
        description="Text fields rewritten; null = the task's input (text, prompt/instruction, question, document).",
    )
    max_records: int | None = Field(
        None, gt=0, description="Augment only the first N train records (in file order); null = all."
    )

    @model_validator(mode="after")
    def _label_kept(self) -> AugmentConfig:
        if self.fields and "label" in self.fields:
            raise ValueError("label is never rewritten (augmented records keep their label)")
        return self


def _yaml_on_key(steps: Any) -> Any:
    """YAML 1.1 reads an unquoted `on:` as the boolean true; in step options it always means the `on` key.

    >>> _yaml_on_key([{"pii": {True: ["response"]}}])
    [{'pii': {'on': ['response']}}]
    """
    if not isinstance(steps, list):
        return steps
    fixed = []
    for step in steps:
        if isinstance(step, dict):
            step = {
                k: (
                    {("on" if o is True else o): v for o, v in opts.items()}
                    if isinstance(opts, dict)
                    else opts
                )
                for k, opts in step.items()
            }
        fixed.append(step)
    return fixed


class DataConfig(Section):
    sources: list[SourceConfig] = Field(default_factory=list, description="Raw inputs, read in order.")
    steps: list[StepSpec] = Field(
        default_factory=list,
        description="Cleaning, filtering and dedup steps, in order: a name, or {name: {options}} (see docs/prepare.md).",
    )
    split: SplitConfig = Field(
        default_factory=SplitConfig, description="How kept records are split into train/val/test."
    )
    output_dir: str | None = Field(
        None,
        description="Where train/val/test.jsonl, rejects.jsonl, stats.json and manifest.json go; null = <train.output_dir>/data.",
    )  # default: runs/<name>/data
    workers: int | None = Field(
        None, description="Processes for prepare; null = all cores."
    )  # processes; None = all cores
    executor: Literal["local", "ray"] = Field(
        "local", description="Where prepare runs: local (a process pool) or ray (Ray tasks; see data.ray)."
    )
    ray: RayConfig = Field(default_factory=RayConfig, description="Where Ray runs when data.executor is ray.")
    augment: AugmentConfig | None = Field(
        None,
        description="Extra train records made after the split (eda, paraphrase); null = none (see docs/prepare.md).",
    )
    stats: StatsConfig = Field(default_factory=StatsConfig, description="What stats.json counts.")

    @field_validator("steps", mode="before")
    @classmethod
    def _on_key(cls, steps: Any) -> Any:
        return _yaml_on_key(steps)


# ---------------------------------------------------------------- task
class TaskConfig(Section):
    type: Literal["causal_lm", "sft", "classification", "qa", "summarization"] = Field(
        "sft",
        description="What is trained: causal_lm (every token), sft (answers), classification, qa or summarization.",
    )
    head: Literal["lm", "classifier"] = Field(
        "lm",
        description="Classification only: lm (the model writes the label word) or classifier (a linear head on the last token).",
    )  # classification only
    labels: list[str] | None = Field(
        None, description="Classification label set; null = the sorted distinct labels of train.jsonl."
    )  # classification label set; None = read from the train split
    template: str | None = Field(
        None, description="User-message template with {field} slots; null = the task's default prompt."
    )  # prompt template with {field} slots; None = the task's default
    chat_template: str | None = Field(
        None, description="Jinja chat template that replaces the tokenizer's; saved with the trained model."
    )  # Jinja chat template replacing the tokenizer's; saved with the model
    system: str | None = Field(
        None, description="System message added to every example (a record's own system wins)."
    )  # system message added to every example
    train_on_prompt: bool = Field(
        False, description="Put loss on the prompt tokens too, not only on the answers."
    )
    truncate: Literal["left", "right", "drop"] = Field(
        "right",
        description="Examples longer than train.max_seq_len: keep the start (right), the end (left), or drop them.",
    )


# ---------------------------------------------------------------- model
class LoraConfig(Section):
    r: int = Field(16, gt=0, description="LoRA rank.")
    alpha: float = Field(32, description="LoRA scaling numerator (the update is scaled by alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target: Literal["all-linear"] | list[str] = Field(
        "all-linear", description="Modules that get adapters: all-linear, or a list of module names."
    )
    dora: bool = Field(False, description="Use DoRA (weight-decomposed LoRA).")


class ModelConfig(Section):
    name: str = Field(
        "smollm2-135m-instruct",
        description="Model to fine-tune: the alias smollm2-135m-instruct, a local Hugging Face folder, a .gguf file or a hub id.",
    )  # alias, local HF folder, .gguf file or hub id
    lora: LoraConfig | None = Field(
        default_factory=LoraConfig,
        description="LoRA adapter settings; null = full fine-tune of every weight.",
    )  # None = full fine-tune
    trust_remote_code: bool = Field(False, description="Allow the model folder's own Python code to run.")
    quantize: Literal["4bit", "8bit"] | None = Field(
        None,
        description="Load the base model in 4 or 8 bit (QLoRA); needs CUDA and bitsandbytes; null = no quantization.",
    )  # QLoRA; needs CUDA + bitsandbytes


# ---------------------------------------------------------------- train
class EarlyStoppingConfig(Section):
    patience: int = Field(
        3, ge=1, description="Evaluations without an improvement of val loss before training stops."
    )  # evaluations without improvement of val loss
    min_delta: float = Field(0.0, description="Smallest decrease of val loss that counts as an improvement.")


class TrainConfig(Section):
    output_dir: str | None = Field(
        None, description="Run folder (checkpoints, metrics, final model, eval, report); null = runs/<name>."
    )  # default: runs/<name>
    epochs: float = Field(1, gt=0, description="Passes over the train split (fractions allowed).")
    max_steps: int | None = Field(
        None, gt=0, description="Optimizer steps to run; wins over epochs; null = from epochs."
    )  # optimizer steps; wins over epochs
    batch_size: int = Field(
        8, gt=0, description="Sequences per optimizer micro-step, per process."
    )  # per process
    grad_accum: int = Field(1, gt=0, description="Micro-steps accumulated per optimizer step.")
    lr: float = Field(2.0e-4, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    scheduler: Literal["constant", "linear", "cosine"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of the steps spent warming up linearly.")
    warmup_steps: int | None = Field(
        None, ge=0, description="Warmup steps; wins over warmup_ratio; null = from warmup_ratio."
    )  # wins over warmup_ratio
    max_grad_norm: float | None = Field(1.0, description="Gradient clipping norm; null = no clipping.")
    max_seq_len: int = Field(
        512, gt=0, description="Tokens per sequence; longer examples are truncated (task.truncate)."
    )
    packing: bool = Field(
        True, description="Pack several examples into one sequence (block-diagonal attention, no cross-talk)."
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="Training precision; auto = bf16 where fast, fp16 on older GPUs, else fp32."
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass to save memory."
    )
    log_every: int = Field(10, gt=0, description="Steps between lines of metrics.jsonl.")
    eval_every: int = Field(
        50, ge=0, description="Steps between val-loss evaluations; 0 = only at the end."
    )  # 0 = only at the end
    save_every: int = Field(100, gt=0, description="Steps between checkpoints.")
    keep: int = Field(2, ge=1, description="Checkpoints kept (older ones are deleted; best/ is kept apart).")
    early_stopping: EarlyStoppingConfig | None = Field(
        default_factory=EarlyStoppingConfig,
        description="Stop when val loss stops improving; null = never stop early.",
    )
    num_processes: int = Field(
        1, ge=1, description="Processes (devices) to train on; more than 1 launches distributed training."
    )
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp", description="Strategy with several processes: ddp or fsdp."
    )


# ---------------------------------------------------------------- eval, tune
class EvalConfig(Section):
    split: Literal["val", "test"] = Field("test", description="Split that lmforge eval scores.")
    batch_size: int = Field(8, gt=0, description="Records per batch when scoring and generating.")
    generate_n: int = Field(
        32, ge=0, description="Records sampled for generation metrics (ROUGE, exact match, ...)."
    )  # records sampled for generation metrics
    max_new_tokens: int = Field(128, gt=0, description="Token limit of each generation in eval.")
    extra_metrics: list[Literal["bleu", "chrf"]] = Field(
        default_factory=list, description="Additional generation metrics: bleu, chrf (sacrebleu)."
    )


class TuneConfig(Section):
    space: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Search space: dotted config key -> one distribution: {log_uniform: [low, high]}, uniform, int, log_int, or {choice: [values]}.",
    )
    n_trials: int = Field(10, gt=0, description="Trials to run.")
    timeout: float | None = Field(
        None, description="Stop starting trials after this many seconds; null = no limit."
    )  # seconds
    metric: str = Field("val_loss", description="Metric the search optimises.")
    direction: Literal["minimize", "maximize"] = Field(
        "minimize", description="Whether the metric is minimised or maximised."
    )
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median", description="Stops unpromising trials early, judged on val loss."
    )
    sampler: Literal["tpe", "random"] = Field("tpe", description="How the next trial's values are chosen.")


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
