"""The tokenizer part of a GGUF file, as llama.cpp reads it (`tokenizer.ggml.*`, `tokenizer.chat_template`).

Byte-level BPE only (GPT-2, SmolLM, Llama 3, Qwen2 vocabularies): llama.cpp's "gpt2" tokenizer model, its
pre-tokenizer named from tokenizer.json, every id's token and type, merges and special ids through gguf's
SpecialVocab, and explicit add-BOS/EOS flags and chat template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmforge.errors import UserError

# tokenizer.json pre-tokenizer steps -> llama.cpp's `tokenizer.ggml.pre` with the same split rules
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = _LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")
PRE_TOKENIZERS = {
    (("ByteLevel", True),): "gpt-2",
    (("Digits", True), ("ByteLevel", True)): "smollm",
    (("Split", _LLAMA3_SPLIT), ("ByteLevel", False)): "llama-bpe",
    (("Split", _QWEN2_SPLIT), ("ByteLevel", False)): "qwen2",
}


def pre_tokenizer(tokenizer: Any) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer (how text is split before BPE merges).

    llama.cpp tells them apart by hashing a test string's token ids against known models; that misses
    any tokenizer trained anew, so this reads the steps from tokenizer.json instead.
    >>> pre_tokenizer(AutoTokenizer.from_pretrained("gpt2"))  # doctest: +SKIP
    'gpt-2'
    """
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE" or spec["model"].get("byte_fallback"):
        raise UserError(
            "GGUF export writes byte-level BPE vocabularies only (not sentencepiece); use --format hf"
        )
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    shape = tuple(_step(s) for s in steps)
    if shape not in PRE_TOKENIZERS:
        raise UserError(f"GGUF export does not know llama.cpp's name for the pre-tokenizer {shape}")
    return PRE_TOKENIZERS[shape]


def _step(step: dict) -> tuple:
    kind = step.get("type")
    if kind == "ByteLevel":
        if step.get("add_prefix_space"):  # llama.cpp adds no prefix space to BPE text: no name matches
            return (kind, step.get("use_regex", True), "add_prefix_space")
        return (kind, step.get("use_regex", True))
    if kind == "Digits":
        return (kind, step.get("individual_digits", False))
    if kind == "Split":
        return (kind, step.get("pattern", {}).get("Regex"))
    return (kind,)


def vocab(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens and their GGUF types for ids 0..vocab_size-1 (llama.cpp's get_vocab_base).

    Ids the tokenizer lacks (embedding rows padded past it) become '[PAD{i}]' UNUSED; added tokens are
    CONTROL when special (or `<|...|>`), else USER_DEFINED; the rest NORMAL.
    """
    import gguf

    reverse = {i: t for t, i in tokenizer.get_vocab().items()}
    if max(reverse) >= vocab_size:
        raise UserError(
            f"the tokenizer has ids up to {max(reverse)} but the model only {vocab_size} embeddings"
        )
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        token = reverse.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        if i not in added:
            types.append(gguf.TokenType.NORMAL)
        elif added[i].special or (token.startswith("<|") and token.endswith("|>")):
            types.append(gguf.TokenType.CONTROL)
        else:
            types.append(gguf.TokenType.USER_DEFINED)
            token = token.replace("\u2581", " ")  # llama.cpp matches user-defined tokens pre-normalised
        tokens.append(token)
    return tokens, types


def add_vocab(writer: Any, src: Path, tokenizer: Any, vocab_size: int) -> None:
    import gguf

    tokens, types = vocab(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")  # llama.cpp's name for byte-level BPE
    writer.add_tokenizer_pre(pre_tokenizer(tokenizer))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(src, load_merges=True, n_vocab=vocab_size)  # merges, special ids
    probe = tokenizer("a")["input_ids"]  # what the tokenizer adds around plain text, said explicitly
    special.add_special_token = {
        "bos": tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id],
        "eos": tokenizer.eos_token_id is not None and probe[-1:] == [tokenizer.eos_token_id],
    }
    special.chat_template = tokenizer.chat_template  # the fallback template where the model has none
    special.add_to_gguf(writer, quiet=True)
