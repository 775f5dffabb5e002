"""Batched generation with left padding (shared by generate, chat, eval and predict)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from lmforge.errors import UserError
from lmforge.formatting.templates import Messages, encode_prompt, to_messages
from lmforge.models import pad_token_id


@dataclass
class Generation:
    text: str
    finished: bool  # stopped with EOS before max_new_tokens
    tokens: int  # generated tokens, EOS included
    ids: list[int] = field(default_factory=list)  # the generated ids before EOS (special tokens kept)


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a turn: the tokenizer's EOS and the generation config's (may be a list)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    cfg_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(cfg_eos if isinstance(cfg_eos, list) else [cfg_eos] if cfg_eos is not None else [])
    return sorted(ids)


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[[5, 6], [7]] -> input_ids [[5, 6], [pad, 7]], attention_mask [[1, 1], [0, 1]]."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    return ids, mask


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str | Messages] | list[list[int]],
    *,
    raw: bool = False,
    system: str | None = None,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 8,
    streamer: Any = None,
    on_batch: Callable[[int], Any] | None = None,
) -> list[Generation]:
    """Complete each prompt; greedy when temperature is 0. `raw` skips the chat template; a prompt given as
    token ids is taken as it is (already rendered). `on_batch(n)` is called after each batch of n prompts
    (a progress bar's `update`).

    >>> generate(model, tok, ["What is the capital of France?"])[0].text  # doctest: +SKIP
    'The capital of France is Paris.'
    """
    model.eval()
    stops = eos_ids(model, tokenizer)
    pad_id = pad_token_id(tokenizer, model)
    if pad_id is None:
        raise UserError("the tokenizer has neither a pad nor an EOS token: generation could never stop")
    encoded = [_encode(tokenizer, p, raw, system) for p in prompts]
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": top_p}
        if temperature > 0
        else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    )
    results: list[Generation] = []
    device = next(model.parameters()).device
    for start in range(0, len(encoded), batch_size):
        ids, mask = left_pad(encoded[start : start + batch_size], pad_id)
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max_new_tokens,
            eos_token_id=stops,
            pad_token_id=pad_id,
            streamer=streamer,
            **sampling,
        )
        for row in out[:, ids.shape[1] :].tolist():
            results.append(_decode(tokenizer, row, stops))
        if on_batch is not None:
            on_batch(len(ids))
    return results


def _encode(tokenizer: Any, prompt: str | Messages | list[int], raw: bool, system: str | None) -> list[int]:
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], int):  # encoded by the caller
        return list(prompt)
    if raw:
        text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
        return tokenizer(text)["input_ids"]
    return encode_prompt(tokenizer, to_messages(prompt, system))


def _decode(tokenizer: Any, row: list[int], stops: list[int]) -> Generation:
    """Cut at the first EOS; tokens after it are padding from the batch."""
    cut = next((i for i, t in enumerate(row) if t in stops), None)
    kept = row if cut is None else row[:cut]
    text = tokenizer.decode(kept, skip_special_tokens=True).strip()
    return Generation(text=text, finished=cut is not None, tokens=len(kept) + (cut is not None), ids=kept)


def load_for_inference(name: str, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Model and tokenizer from an alias, folder, .gguf, hub id, or a run folder with a LoRA adapter."""
    from lmforge.models import has_tokenizer, load_model, load_tokenizer, resolve_peft_adapter

    adapter = resolve_peft_adapter(name)
    if adapter is not None:
        from peft import PeftModel

        base, adapter_dir = adapter
        model = PeftModel.from_pretrained(load_model(base, trust_remote_code), adapter_dir)
        tokenizer = load_tokenizer(adapter_dir if has_tokenizer(adapter_dir) else base, trust_remote_code)
        return model, tokenizer
    return load_model(name, trust_remote_code), load_tokenizer(name, trust_remote_code)
