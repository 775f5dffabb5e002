"""`task:` and `model:` — what is trained, and on which pretrained model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lmforge.config.base import Section


class TaskConfig(Section):
    type: Literal["causal_lm", "sft", "classification", "qa", "summarization", "preference", "rl"] = Field(
        "sft",
        description="What is trained: causal_lm (every token), sft (answers), classification, qa, summarization, "
        "preference (chosen/rejected pairs, or KTO's completion + label; see docs/preference.md) or rl (prompts "
        "for train.objective: grpo, their other fields passed to the reward functions; docs/grpo.md).",
    )
    head: Literal["lm", "classifier"] = Field(
        "lm",
        description="Classification only: lm (the model writes the label word) or classifier (a linear head on the last token).",
    )  # classification only
    head_init: Literal["label_words", "random"] = Field(
        "label_words",
        description="Classifier head only: start each class's row as the LM head's row of its label's first token "
        "(the model's zero-shot answer; docs/train.md), or at random like transformers' sequence-classification head.",
    )
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
    conversation: Literal["fix", "reject"] = Field(
        "fix",
        description="Conversations (messages) that start with the assistant, hold empty turns, repeat a role or end with the user: fixed by the documented rule, or rejected (docs/formats.md).",
    )


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
    from_adapter: Literal["merge", "continue"] = Field(
        "merge",
        description="When model.name is a run or adapter folder holding a LoRA adapter (an SFT run before DPO): "
        "merge = fold it into its base and train a fresh adapter (or, with lora: null, every weight) on the "
        "merged model, which is also the DPO reference; continue = keep training that adapter (its own r, alpha, "
        "targets), the reference being the model as loaded (log-probs cached before the first step).",
    )
    trust_remote_code: bool = Field(False, description="Allow the model folder's own Python code to run.")
    quantize: Literal["4bit", "8bit"] | None = Field(
        None,
        description="Load the base model in 4 or 8 bit (QLoRA); needs CUDA and bitsandbytes; null = no quantization.",
    )  # QLoRA; needs CUDA + bitsandbytes
