"""The two models eval compares, loaded and set up for fast inference with the same results.

`ready_for_eval` is where the speed comes from (issue #23: 85% of eval time was peft's unmerged LoRA
forward in fp32):
- a LoRA adapter is merged into the weights (peft merge_and_unload): one matmul per linear layer instead
  of three. The model is eval's own copy, loaded for this run, so merging in place changes nothing else;
- under the precision training used (`train.precision` through resolve_precision), linear weights are
  stored in that 16-bit dtype: autocast would cast them before every matmul anyway (same values), and
  merged weights are frozen, which autocast does not cache. A head tied to the input embedding gets its
  own 16-bit copy: the embedding lookup is not autocast, it stays fp32.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from lmforge.config import ExperimentConfig
from lmforge.errors import UserError
from lmforge.models import pad_token_id
from lmforge.tasks import Task


def autocast_dtype(cfg: ExperimentConfig) -> torch.dtype | None:
    """bf16 / fp16 when training ran under that autocast, else None (fp32).

    >>> autocast_dtype(load_config(None, ["train.precision=fp32"])) is None  # doctest: +SKIP
    True
    """
    from lmforge.training.setup import resolve_precision

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(resolve_precision(cfg.train.precision))


def ready_for_eval(model: Any, dtype: torch.dtype | None, quantized: bool = False) -> Any:
    """Merge LoRA, freeze, eval mode, 16-bit linear weights under autocast; returns the model to use.

    Call it only on a model loaded for this eval (it changes the weights in place), and run that model
    inside `batching.inference(device, dtype)`: 16-bit weights need the autocast.
    """
    if hasattr(model, "merge_and_unload") and not quantized:  # merging into 4-bit weights would be lossy
        with warnings.catch_warnings():  # peft reads a transformers attribute deprecated in 5.x
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = model.merge_and_unload()
    model.eval()
    model.requires_grad_(False)
    if dtype is not None and not quantized:
        _linear_weights_to(model, dtype)
    return model


def _linear_weights_to(model: Any, dtype: torch.dtype) -> None:
    embedding = model.get_input_embeddings().weight if hasattr(model, "get_input_embeddings") else None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and embedding is not None and head.weight is embedding:
        head.weight = torch.nn.Parameter(embedding.detach().to(dtype), requires_grad=False)
    for module in model.modules():
        weight = getattr(module, "weight", None)
        linear = isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"  # GPT-2's linear
        if linear and isinstance(weight, torch.Tensor) and weight is not embedding:
            weight.data = weight.data.to(dtype)


def load_base(cfg: ExperimentConfig, task: Task) -> tuple[Any, Any]:
    """The pretrained model of `model.name` (a freshly seeded head for `task.head: classifier`).

    Its chat template is made ready as training's was (tools, `train.thinking`), so the base model is
    prompted with the tokens the fine-tuned one was trained on.
    """
    from lmforge.formatting.templates import ensure_chat_template
    from lmforge.formatting.token_cache import mentions_tools
    from lmforge.formatting.tool_template import prepare_template
    from lmforge.models import load_model, load_tokenizer

    tokenizer = ensure_chat_template(
        load_tokenizer(cfg.model.name, cfg.model.trust_remote_code), cfg.task.chat_template
    )
    data = Path(cfg.data.output_dir)
    split = data / "train.jsonl" if (data / "train.jsonl").is_file() else data / f"{cfg.eval.split}.jsonl"
    prepare_template(tokenizer, split.is_file() and mentions_tools(split), cfg.train.thinking)
    if cfg.task.head != "classifier":
        return load_model(cfg.model.name, cfg.model.trust_remote_code), tokenizer
    torch.manual_seed(cfg.seed)
    model = load_model(
        cfg.model.name, cfg.model.trust_remote_code, head="classifier", num_labels=len(task.label_set())
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id(tokenizer)
    if cfg.task.head_init == "label_words":  # the head training starts from: the base's zero-shot answer
        from lmforge.training.setup import start_classifier_head

        start_classifier_head(cfg, model, tokenizer, task.label_set())
    return model, tokenizer


def load_trained(path: Path, cfg: ExperimentConfig, task: Task) -> tuple[Any, Any]:
    """A fine-tuned model folder (full model or LoRA adapter, LM or classifier head) and its tokenizer."""
    from lmforge.inference.generation import load_for_inference
    from lmforge.models import load_model, load_tokenizer, resolve_peft_adapter

    if path.is_dir() and (path / "final").is_dir():
        path = path / "final"
    meta_file = path / "lmforge.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    if meta.get("head", cfg.task.head) != "classifier":
        return load_for_inference(str(path), cfg.model.trust_remote_code)
    n = len(meta.get("labels") or task.label_set())
    adapter = resolve_peft_adapter(str(path))
    if adapter is None:
        model = load_model(str(path), cfg.model.trust_remote_code, head="classifier", num_labels=n)
    else:
        from peft import PeftModel

        base = load_model(adapter[0], cfg.model.trust_remote_code, head="classifier", num_labels=n)
        model = PeftModel.from_pretrained(base, adapter[1])
    tokenizer = load_tokenizer(str(path), cfg.model.trust_remote_code)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id(tokenizer)
    return model, tokenizer


def eval_inputs(cfg: ExperimentConfig, model_dir: str | None, split: str | None) -> tuple[str, list, Path]:
    """The split's name, its prepared records and the fine-tuned model's folder; one line if one is missing."""
    from lmforge.formatting.token_cache import read_jsonl

    split = split or cfg.eval.split
    path = Path(cfg.data.output_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise UserError(f"{path} not found: run `lmforge prepare` first (or set data.output_dir)")
    records = read_jsonl(path)
    if not records:
        raise UserError(f"{path} is empty: nothing to evaluate")
    tuned_path = Path(model_dir) if model_dir else Path(cfg.train.output_dir) / "final"
    if not tuned_path.exists():
        raise UserError(
            f"no fine-tuned model at {tuned_path}: run `lmforge train` first, or pass --model DIR"
        )
    return split, records, tuned_path
