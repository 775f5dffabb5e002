"""Leading tokens that every row of a batch shares run once, not once per row.

Every eval prompt starts the same way: the chat template's system turn and the task template ("Classify
the text as one of: ...\\n\\nText: "): 42 of the 78 tokens of a short tweet on the built-in model. Those
tokens' keys and values are the same in every row, so they are computed for one row, the KV cache is
repeated for the batch, and the rows run only from there on (same maths: causal attention never lets
the shared tokens see what follows; tested equal to the plain forward). Only positions that nothing is
read from are shared: the outputs eval reads (scored positions, a classifier's last token) stay in the
part that runs per row.
"""

from __future__ import annotations

import inspect
from typing import Any

MIN_SHARED = 8  # fewer shared tokens are not worth a forward of their own


def shared_prefix(rows: list[list[int]], limit: int) -> int:
    """Length of the rows' common leading tokens, at most `limit`; 0 below MIN_SHARED or for one row.

    >>> shared_prefix([list(range(20)) + [1], list(range(20)) + [2]], limit=30)
    20
    >>> shared_prefix([list(range(20)) + [1], list(range(20)) + [2]], limit=5)
    0
    """
    if len(rows) < 2:
        return 0
    n = min(limit, *(len(r) for r in rows))
    first = rows[0]
    at = next((i for i in range(n) if any(r[i] != first[i] for r in rows[1:])), n)
    return at if at >= MIN_SHARED else 0


def backbone_of(model: Any) -> Any:
    """The decoder stack under a task head, through a peft wrapper (LlamaForX -> LlamaModel); or None."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(base, getattr(base, "base_model_prefix", ""), None)
    return backbone if backbone is not None and backbone is not base else None


def with_prefix_cache(backbone: Any, inputs: dict[str, Any], prefix: int) -> dict[str, Any] | None:
    """`inputs` for the tokens after the first `prefix`, with those tokens' KV cache computed once and
    repeated for every row; None when `backbone` takes no cache (then run the plain inputs).

    A (B, T) attention mask is kept whole (the cache's part, then the rows'); a 4D one keeps its rows
    from `prefix` on: (B, 1, T - prefix, T).
    """
    params = inspect.signature(backbone.forward).parameters
    key = "cache" if "cache" in params else "past_key_values" if "past_key_values" in params else None
    if key is None or not prefix:
        return None
    ids, pos, mask = inputs["input_ids"], inputs["position_ids"], inputs["attention_mask"]
    out = backbone(input_ids=ids[:1, :prefix], position_ids=pos[:1, :prefix], use_cache=True)
    cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
    if cache is None or not hasattr(cache, "batch_repeat_interleave"):
        return None
    cache.batch_repeat_interleave(ids.shape[0])
    rest = {
        "input_ids": ids[:, prefix:],
        "position_ids": pos[:, prefix:],
        "attention_mask": mask if mask.dim() == 2 else mask[:, :, prefix:],
        key: cache,
        "use_cache": True,
    }
    return {**{k: v for k, v in inputs.items() if k not in rest}, **rest}


def prefix_limit(lengths: list[int], first_read: list[int]) -> int:
    """How far sharing may go: before the first position anything is read from, one token left per row.

    >>> prefix_limit([30, 25], first_read=[20, 22])
    20
    """
    return min(min(first_read), min(lengths) - 1)
