"""`data:` — sources, steps, split, augmentation and stats of `lmforge prepare`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lmforge.config.base import Section


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


class PairsConfig(Section):
    rejected: Literal["other_record", "base_model"] = Field(
        ...,
        description="Where each SFT record's rejected answer comes from: other_record (another record's answer "
        "in the same split, seeded, never the same text) or base_model (what data.pairs.model writes).",
    )
    model: str | None = Field(
        None, description="base_model: the model that writes the rejected answers; null = model.name."
    )
    temperature: float = Field(0.7, ge=0, description="base_model: sampling temperature; 0 = greedy.")
    top_p: float = Field(0.95, gt=0, le=1, description="base_model: nucleus sampling mass.")
    max_new_tokens: int = Field(256, gt=0, description="base_model: the longest rejected answer, in tokens.")
    batch_size: int = Field(8, gt=0, description="base_model: prompts generated together.")


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
    pairs: PairsConfig | None = Field(
        None,
        description="task.type preference from SFT data: each record's answer is chosen, the rejected answer "
        "another record's or the base model's (see docs/preference.md); null = the sources hold pairs.",
    )
    stats: StatsConfig = Field(default_factory=StatsConfig, description="What stats.json counts.")
    privacy_unit: str | None = Field(
        None,
        description="Record field (or meta key) naming who a record is about, e.g. customer_id: under "
        "train.privacy all records of one value form one privacy unit; null = each record is a unit.",
    )
    min_kept: int | float | None = Field(
        None,
        ge=0,
        description="Fewest records a run may keep, else it fails (exit 1): a share of the records read (0.5) or a count (1000); null = at least one.",
    )

    @field_validator("steps", mode="before")
    @classmethod
    def _on_key(cls, steps: Any) -> Any:
        return _yaml_on_key(steps)

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, steps: list[StepSpec]) -> list[StepSpec]:
        # imported here: the step registry pulls numpy and every step module, which only data work needs
        from lmforge.data.steps import check_steps
        from lmforge.errors import UserError

        try:
            check_steps(steps)  # names and option types, from what each step declares
        except UserError as e:  # passed through pydantic as it is: one line naming data.steps[i].step.option
            raise UserError(f"config error: {e}") from None
        return steps

    @field_validator("min_kept")
    @classmethod
    def _share_or_count(cls, v: int | float | None) -> int | float | None:
        if isinstance(v, float) and v > 1:
            raise ValueError("a share of the records read is at most 1; a count is a whole number")
        return v
