"""Expected tokens written out by hand, per fixture's chat format (shared by the task tests)."""

from __future__ import annotations

CHATML_SYSTEM = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
)


def chatml(user: str, system: str | None = None) -> str:
    """The built-in model's ChatML prompt, up to the assistant header."""
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else CHATML_SYSTEM
    return f"{head}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def fallback(user: str, system: str | None = None) -> str:
    """templates.FALLBACK_TEMPLATE's prompt, up to the assistant header."""
    head = f"### System:\n{system}\n\n" if system else ""
    return f"{head}### User:\n{user}\n\n### Assistant:\n"


def expected(tok, parts: list[tuple[str, bool]]) -> tuple[list[int], list[int]]:
    """Token ids and labels from hand-written (text, trained) pieces, each tokenised on its own."""
    ids, labels = [], []
    for text, trained in parts:
        piece = tok(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trained else [-100] * len(piece)
    return ids, labels
