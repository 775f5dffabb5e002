"""Attention over packed rows without a (T, T) mask: each document attends causally within itself only.

A packed row is described by its `position_ids` alone (they restart at 0 where a document starts; no
attention mask). On CUDA with FlashAttention installed, transformers turns those into cumulative sequence
lengths for the varlen kernel (`flash_attention_2`). Elsewhere `lmforge_docs` (registered here) regroups the
documents: every document of the batch becomes its own sequence, documents of similar length share one
padded tensor (lengths rounded up to a power of two), and each group is one causal SDPA call with no mask, so
the fast kernel runs and masked blocks are never computed. The offsets inside a document are the position ids.

>>> import torch
>>> segments(torch.tensor([[0, 1, 2, 0, 1, 0]]))  # (document of each token, documents, longest)
(tensor([0, 0, 0, 1, 1, 2]), 3, 3)

Any call it cannot serve this way (a 2D/4D attention mask, a KV cache, sliding windows, soft-capping,
position biases) goes to transformers' own SDPA unchanged, so the same model still generates.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

NAME = "lmforge_docs"


def segments(position_ids: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """Document index of every token of the flattened (B, T) batch, the document count, the longest length."""
    flat = position_ids.reshape(-1)
    starts = flat == 0
    starts[0] = True
    doc = torch.cumsum(starts.to(torch.int64), 0) - 1
    return doc, int(doc[-1]) + 1, int(flat.max()) + 1


def docs_attention(
    module: torch.nn.Module,
    query: torch.Tensor,  # (B, Hq, T, D)
    key: torch.Tensor,  # (B, Hkv, T, D)
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature; returns (B, T, Hq, D) like sdpa_attention_forward."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    position_ids = kwargs.get("position_ids")
    if not _servable(query, key, attention_mask, position_ids, kwargs):
        if attention_mask is None and query.shape[2] == key.shape[2] and _is_packed(position_ids):
            raise RuntimeError(f"{NAME} cannot keep these packed documents apart (sliding window, soft-cap?)")
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    dev = query.device.type
    if torch.is_autocast_enabled(dev):  # SDPA would cast them anyway: cast before the regrouping copies
        query, key, value = (x.to(torch.get_autocast_dtype(dev)) for x in (query, key, value))
    b, hq, t, d = query.shape
    offsets = position_ids.reshape(-1)  # (B*T,) position inside its document
    doc, _, _ = segments(position_ids)
    lengths = torch.bincount(doc)  # (N,)
    out: torch.Tensor | None = None
    q, k, v = (x.transpose(1, 2).reshape(b * t, x.shape[1], x.shape[-1]) for x in (query, key, value))
    groups = module.num_key_value_groups if hasattr(module, "num_key_value_groups") else 1
    bucket = torch.ceil(torch.log2(lengths.clamp(min=1).double())).long()[doc]  # (B*T,) length class
    for size_class in torch.unique(bucket).tolist():
        rows = torch.nonzero(bucket == size_class).squeeze(1)  # tokens of this group's documents
        group_docs, local = torch.unique(doc[rows], return_inverse=True)
        width = int(lengths[group_docs].max())
        slot = local * width + offsets[rows]  # (n,) where each token sits in the padded group
        n_docs = len(group_docs)
        qs, ks, vs = (_scatter(x[rows], slot, n_docs, width) for x in (q, k, v))  # (G, H, W, D)
        attn = F.scaled_dot_product_attention(
            qs,
            ks,
            vs,
            is_causal=True,  # a document's padding sits after its tokens: causality already hides it
            dropout_p=dropout if module.training else 0.0,
            scale=scaling,
            enable_gqa=groups > 1,
        )
        part = attn.transpose(1, 2).reshape(n_docs * width, hq, -1)[slot]  # (n, Hq, D) back in token order
        if out is None:  # autocast decides the dtype SDPA returns
            out = part.new_zeros((b * t, hq, part.shape[-1]))
        out = out.index_copy(0, rows, part)
    return out.reshape(b, t, hq, -1), None


def _is_packed(position_ids: torch.Tensor | None) -> bool:
    return position_ids is not None and bool((position_ids[..., 1:] == 0).any())


def _scatter(x: torch.Tensor, slot: torch.Tensor, n_docs: int, width: int) -> torch.Tensor:
    """(n, H, D) tokens -> (G, H, W, D), zeros where a document is shorter than the group's width."""
    padded = x.new_zeros((n_docs * width, x.shape[1], x.shape[2]))
    padded = padded.index_copy(0, slot, x)
    return padded.reshape(n_docs, width, x.shape[1], x.shape[2]).transpose(1, 2)


def _servable(
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    position_ids: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> bool:
    return (
        attention_mask is None
        and position_ids is not None
        and position_ids.dim() == 2
        and position_ids.shape == (query.shape[0], query.shape[2])
        and query.shape[2] == key.shape[2]  # no KV cache
        and kwargs.get("sliding_window") is None
        and kwargs.get("softcap") is None
        and kwargs.get("position_bias") is None
        and not kwargs.get("output_attentions", False)
    )


def register() -> str:
    """Make `lmforge_docs` an attention implementation transformers models accept; returns its name."""
    from transformers import AttentionInterface, AttentionMaskInterface

    # data-dependent (the documents' lengths pick the groups): under train.compile it stays eager, one
    # graph break per layer instead of a recompilation per batch
    AttentionInterface.register(NAME, torch.compiler.disable(docs_attention))
    AttentionMaskInterface.register(NAME, _no_mask)
    return NAME


def _no_mask(*args: Any, **kwargs: Any) -> None:
    """Packed rows need no mask (documents come from position_ids); a padded 2D mask still reaches SDPA."""
    from transformers.masking_utils import sdpa_mask

    if kwargs.get("attention_mask") is None:
        return None  # packed or unpadded rows: docs_attention needs none
    return sdpa_mask(*args, **kwargs)
