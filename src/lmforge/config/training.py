"""`train:`, `eval:` and `tune:` — optimisation, scoring and the hyper-parameter search."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from lmforge.config.base import Section
from lmforge.config.grpo import GrpoKeys


class EarlyStoppingConfig(Section):
    patience: int = Field(
        3, ge=1, description="Evaluations without an improvement of val loss before training stops."
    )  # evaluations without improvement of val loss
    min_delta: float = Field(0.0, description="Smallest decrease of val loss that counts as an improvement.")


class PrivacyConfig(Section):
    target_epsilon: float | None = Field(
        None,
        gt=0,
        description="Privacy budget (epsilon) per privacy unit for the whole run: the noise multiplier is "
        "chosen so the planned steps spend at most this, and training stops before a step that would exceed it.",
    )
    noise_multiplier: float | None = Field(
        None,
        gt=0,
        description="Gaussian noise std / max_grad_norm, instead of a target (null = from target_epsilon).",
    )
    delta: float = Field(1.0e-5, gt=0, lt=1, description="The delta of (epsilon, delta)-DP; below 1 / units.")
    max_grad_norm: float = Field(
        1.0, gt=0, description="Per-unit gradient clipping norm (DP-SGD's C; replaces train.max_grad_norm)."
    )
    accountant: Literal["rdp", "prv"] = Field("rdp", description="Opacus accountant that tracks epsilon.")

    @model_validator(mode="after")
    def _target_or_noise(self) -> PrivacyConfig:
        if self.target_epsilon is None and self.noise_multiplier is None:
            raise ValueError("train.privacy needs target_epsilon or noise_multiplier")
        return self


class TrainConfig(GrpoKeys):
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
    compile: bool | Literal["auto"] = Field(
        "auto",
        description="Compile the decoder layers with torch.compile (inductor, CPU or CUDA): true, false, or "
        "auto = time the first steps eager, then compile when the steps left win back the compile time "
        "(inductor's cache under $LMFORGE_HOME/inductor makes a second run start warm); the decision and "
        "recompilations are logged. No compiler (g++ / triton): eager, with a one-line note.",
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
    privacy: PrivacyConfig | None = Field(
        None,
        description="DP-SGD with Opacus: {target_epsilon: 8, delta: 1.0e-5, max_grad_norm: 1.0}; null = off "
        "(see docs/privacy.md).",
    )
    objective: Literal["sft", "dpo", "ipo", "orpo", "simpo", "kto", "grpo"] = Field(
        "sft",
        description="Training objective: sft (cross-entropy on the answers), a preference objective (needs "
        "task.type: preference): dpo, ipo, orpo, simpo, kto (see docs/preference.md), or grpo (online RL with "
        "train.rewards; needs task.type: rl; docs/grpo.md).",
    )
    beta: float | None = Field(
        None,
        ge=0,
        description="Preference objectives: DPO/IPO/KTO's KL strength, ORPO's odds-ratio weight (lambda), "
        "SimPO's reward scale (the SimPO paper uses 2.0-2.5); null = 0.1. grpo: the KL penalty to the reference "
        "(the base with the adapter disabled); null = 0, as TRL.",
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="dpo and simpo: the assumed share of flipped pairs (conservative DPO); 0 = plain DPO.",
    )
    simpo_gamma: float = Field(0.5, ge=0, description="simpo: the target reward margin gamma.")
    kto_weights: tuple[float, float] = Field(
        (1.0, 1.0), description="kto: weights of desirable and undesirable examples."
    )
    preference_dropout: bool = Field(
        False,
        description="Preference objectives: keep dropout (LoRA's and the model's) on in training; false = off, "
        "as TRL's disable_dropout (the reference pass has no LoRA dropout: dropout biases rewards and margins).",
    )
    thinking: Literal["keep", "last", "drop"] = Field(
        "keep",
        description="Reasoning traces of assistant turns (reasoning_content or <think>...</think>): trained on "
        "every turn (keep), on the last assistant turn only (last), or on none (drop; a template with its own "
        "switch, Qwen3's enable_thinking, is rendered with it off, and saved so; docs/formats.md).",
    )
    report_to: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(
        default_factory=lambda: ["tensorboard"],
        description="Experiment trackers that train, tune and eval log to: tensorboard, mlflow (local store "
        "in train.output_dir/mlflow unless MLFLOW_TRACKING_URI), wandb (offline unless logged in); "
        "metrics.jsonl is always written.",
    )

    @model_validator(mode="after")
    def _objective_settings(self) -> TrainConfig:
        # KTO's KL rows pair each prompt with another example's answer in the batch: with one example
        # the answer is its own reference point (TRL refuses per_device_train_batch_size < 2 too).
        # UserError, not ValueError: pydantic passes it through, so the line names the key itself
        from lmforge.errors import UserError

        if self.beta is None:
            self.beta = 0.0 if self.objective == "grpo" else 0.1
        elif self.beta == 0 and self.objective not in ("grpo", "sft"):
            raise UserError(f"config error: train.beta: {self.objective} needs beta > 0")
        if self.objective == "grpo" and not self.rewards:
            raise UserError(
                "config error: train.rewards: grpo needs at least one reward function (docs/grpo.md)"
            )
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise UserError(
                f"config error: train.reward_weights: {len(self.reward_weights)} weights for "
                f"{len(self.rewards)} reward functions"
            )
        if self.objective == "kto" and self.batch_size < 2:
            raise UserError(
                f"config error: train.batch_size: kto needs at least 2 (got {self.batch_size}): each "
                "answer's KL row is another example's answer in the batch"
            )
        return self


class EvalConfig(Section):
    split: Literal["val", "test"] = Field("test", description="Split that lmforge eval scores.")
    batch_tokens: int = Field(
        4096,
        gt=0,
        description="Token budget of each eval batch: records sorted by length, rows x longest row <= this "
        "(generation: rows x (longest prompt + max_new_tokens) <= twice this).",
    )
    batch_size: int | None = Field(
        None, gt=0, description="Most records per eval batch; null = as many as eval.batch_tokens allows."
    )
    generate_n: int | None = Field(
        None,
        ge=0,
        description="Records sampled for generation metrics (ROUGE, EOS rate, exact match, ...); null = all.",
    )
    max_new_tokens: int = Field(128, gt=0, description="Token limit of each generation in eval.")
    num_samples: int = Field(
        1,
        gt=0,
        description="task.type rl: completions sampled per prompt at train.temperature / top_p for pass@k "
        "(k = 1, 2, 4, ... up to this); 1 = the greedy completion only.",
    )
    extra_metrics: list[Literal["bleu", "chrf"]] = Field(
        default_factory=list, description="Additional generation metrics: bleu, chrf (sacrebleu)."
    )
    general: bool = Field(
        True,
        description="Also score base and fine-tuned on the general-ability probes that ship with lmforge "
        "(general_mc_acc, general_mc_acc_norm, general_ppl, general_kl; docs/eval.md).",
    )
    max_general_drop: float | None = Field(
        None,
        ge=0,
        description="Exit 1 when a general_* metric got worse than the base's by more than this (absolute; "
        "higher general_ppl / general_kl is worse); null = never.",
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
