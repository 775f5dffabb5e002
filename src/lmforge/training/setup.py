"""Model for training: base weights, head, LoRA/DoRA via peft (or full fine-tune), precision, checkpointing."""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from lmforge.config import ExperimentConfig, LoraConfig
from lmforge.errors import UserError


def cpu_has_fast_bf16() -> bool:
    """True where the CPU runs bf16 matmuls natively (avx512_bf16 / AMX): ~4x fp32 on such CPUs."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """Accelerate's mixed_precision for `train.precision`: auto -> bf16 where fast, fp16 on old GPUs, else no.

    >>> resolve_precision("fp32")
    'no'
    """
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_fast_bf16() else "no"
    if precision == "fp16" and not cuda:
        raise UserError("train.precision: fp16 needs a CUDA GPU; use bf16 or fp32 (or auto) on this machine")
    return "no" if precision == "fp32" else precision


def check_quantize(cfg: ExperimentConfig) -> None:
    """QLoRA needs CUDA, bitsandbytes and a LoRA config; say which is missing in one line."""
    if cfg.model.quantize is None:
        return
    if cfg.model.lora is None:
        raise UserError("model.quantize needs model.lora (QLoRA trains adapters on a frozen quantized base)")
    if not torch.cuda.is_available():
        raise UserError(
            "model.quantize (QLoRA) needs a CUDA GPU; none is available here: set model.quantize: null"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError("model.quantize (QLoRA) needs bitsandbytes: pip install bitsandbytes")


def build_model(cfg: ExperimentConfig, tokenizer: Any, labels: list[str] | None = None) -> torch.nn.Module:
    """The model to train: full fine-tune when `model.lora` is null, else a peft LoRA/DoRA model.

    `labels` are the class names of a classifier head (`task.head: classifier`).
    """
    from lmforge.training.chain import check_start, start_adapter

    check_quantize(cfg)
    check_start(cfg)
    head = cfg.task.head
    start = start_adapter(cfg) if cfg.model.from_adapter == "continue" else None  # else load_model merges it
    model = _load_base(cfg, head, len(labels or []) or 2, name=start[0] if start else None)
    if tokenizer.pad_token_id is None and head == "classifier":
        model.config.pad_token_id = (
            tokenizer.eos_token_id
        )  # the classifier finds each row's last token by pad
    elif getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if labels and head == "classifier":
        model.config.id2label = dict(enumerate(labels))
        model.config.label2id = {name: i for i, name in enumerate(labels)}
        if start is None and cfg.task.head_init == "label_words":  # a continued adapter brings its own head
            start_classifier_head(cfg, model, tokenizer, labels)
    model.config.use_cache = False  # the KV cache is useless in training and breaks checkpointing
    if head != "classifier":
        choose_attention(model)
    if cfg.train.gradient_checkpointing:
        _checkpoint_activations(model)
    if start is not None:  # model.from_adapter: continue (training/chain.py)
        from lmforge.training.chain import continue_adapter

        return continue_adapter(model, start[1])
    if cfg.model.lora is not None:
        model = apply_lora(model, cfg.model.lora, head, quantized=cfg.model.quantize is not None)
    return model


def start_classifier_head(cfg: ExperimentConfig, model: Any, tokenizer: Any, labels: list[str]) -> bool:
    """`task.head_init: label_words`: the head's rows from the LM head's rows of the label words (class_head.py)."""
    from lmforge.models import resolve_model
    from lmforge.training.class_head import init_from_label_words

    return init_from_label_words(
        model, tokenizer, labels, resolve_model(cfg.model.name, cfg.model.trust_remote_code)
    )


def choose_attention(model: Any) -> str:
    """The attention that keeps packed documents apart fastest here; returns its name.

    CUDA with flash-attn installed: `flash_attention_2` (varlen from position_ids). Otherwise
    `lmforge_docs` (training/packed_attention.py), measured on the built-in model, fwd+bwd under bf16 autocast:
    equal to transformers' masked SDPA at 5 x 512 and 1.38x faster at 2 x 2048 (bench/RESULTS.md). Models
    with sliding windows or soft-capped attention keep their own implementation (SDPA builds their mask).
    """
    from lmforge.training.packed_attention import register

    config = model.config
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        name = "flash_attention_2"
    elif getattr(config, "sliding_window", None) or getattr(config, "attn_logit_softcapping", None):
        return str(getattr(config, "_attn_implementation", "sdpa"))
    else:
        name = register()
    try:
        model.set_attn_implementation(name)
    except (ValueError, ImportError) as e:  # an architecture that takes no custom attention function
        print(f"lmforge: attention {name} not available for this model ({e}); using sdpa", file=sys.stderr)
        return "sdpa"
    return name


def _checkpoint_activations(model: Any) -> None:
    """Recompute activations in backward (less memory, ~30% more compute); non-reentrant works with peft."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 name
        model.activation_checkpointing_enable({"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def apply_lora(model: Any, lora: LoraConfig, head: str = "lm", quantized: bool = False) -> Any:
    """Wrap with peft. `all-linear` covers nn.Linear and GPT-2's Conv1D; the LM head is left out."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import TaskType, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    target = lora.target if lora.target == "all-linear" else list(lora.target)
    peft_cfg = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=target,
        use_dora=lora.dora,
        task_type=TaskType.SEQ_CLS if head == "classifier" else TaskType.CAUSAL_LM,
        fan_in_fan_out=_has_conv1d(model),
    )
    try:
        with warnings.catch_warnings():  # peft reads a transformers attribute deprecated in 5.x
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, peft_cfg)
    except ValueError as e:  # e.g. a target module name that the model does not have
        raise UserError(f"model.lora.target: {str(e).splitlines()[0]}") from None


def _has_conv1d(model: torch.nn.Module) -> bool:
    """GPT-2 style Conv1D stores weights transposed; peft needs fan_in_fan_out for it."""
    return any(type(m).__name__ == "Conv1D" for m in model.modules())


def _load_base(cfg: ExperimentConfig, head: str, num_labels: int, name: str | None = None) -> torch.nn.Module:
    """`name` (default `model.name`; a LoRA run folder loads merged) in fp32, or quantized for QLoRA."""
    from lmforge.models import load_model, resolve_model

    if cfg.model.quantize is None:
        return load_model(
            name or cfg.model.name, cfg.model.trust_remote_code, head=head, num_labels=num_labels
        )
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    cls = AutoModelForSequenceClassification if head == "classifier" else AutoModelForCausalLM
    return cls.from_pretrained(
        resolve_model(cfg.model.name, cfg.model.trust_remote_code),
        **quantized_load_kwargs(cfg, head, num_labels),
    )


def quantized_load_kwargs(cfg: ExperimentConfig, head: str, num_labels: int) -> dict[str, Any]:
    """`from_pretrained` arguments of a QLoRA base: this process's GPU (LOCAL_RANK), safetensors only.

    >>> quantized_load_kwargs(cfg, "lm", 2)["device_map"]  # LOCAL_RANK=1  # doctest: +SKIP
    {'': 1}
    """
    from transformers import BitsAndBytesConfig

    four = cfg.model.quantize == "4bit"
    quant = BitsAndBytesConfig(
        load_in_4bit=four,
        load_in_8bit=not four,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    return {
        "quantization_config": quant,
        "trust_remote_code": cfg.model.trust_remote_code,
        "device_map": {"": int(os.environ.get("LOCAL_RANK", 0))},  # each process on its own GPU
        "use_safetensors": True,  # never unpickle .bin weights
        **({"num_labels": num_labels} if head == "classifier" else {}),
    }


def speed_up_on_cpu(model: torch.nn.Module, mixed_precision: str, sharded: bool) -> None:
    """Two CPU speed-ups for LoRA training that leave the maths alone (no-ops on GPUs, for a full fine-tune):

    - under bf16 autocast, frozen linear weights are stored in bf16: autocast casts them to bf16 before every
      matmul anyway, a copy of the whole model per forward (same values, so the same losses; half the
      memory). Not for weights tied to the input embedding (the lookup is not autocast) and not when FSDP
      shards the model (one dtype per sharded unit);
    - LoRA dropout uses `FastDropout`.
    """
    from lmforge.training.fused_lora import FastDropout

    if torch.cuda.is_available() or not hasattr(model, "peft_config"):
        return
    embedding = model.get_input_embeddings().weight
    for module in model.modules():
        drop = getattr(module, "lora_dropout", None)
        if isinstance(drop, torch.nn.ModuleDict):
            for name, d in drop.items():
                if isinstance(d, torch.nn.Dropout):
                    drop[name] = FastDropout(d.p)
        weight = getattr(module, "weight", None)
        if (
            mixed_precision == "bf16"
            and not sharded
            and (isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D")  # GPT-2's linear
            and weight is not None
            and not weight.requires_grad
            and weight is not embedding
        ):
            weight.data = weight.data.to(torch.bfloat16)
