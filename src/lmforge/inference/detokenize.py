"""A row's text as its tokens come, a few tokens decoded per step instead of the whole answer again.

Decoding the whole answer at every token is O(n) work per step, O(n^2) per answer. As TGI's `decode_token`
and vLLM's `detokenize_incrementally` do, each step decodes one short window twice: the tokens from
`prefix` to `read` (text already shown) and from `prefix` to the last one; the new text is what the second
adds to the first. The window starts a token back, so a tokenizer that decodes a word's leading space or
merged bytes differently at the start of a decode (SentencePiece, byte fallback) still gives the right
difference. A character whose UTF-8 bytes span tokens decodes as U+FFFD until its last byte comes: that
step shows nothing, and the window grows by a token until the character is whole.

>>> d = IncrementalText(tok)  # doctest: +SKIP
>>> ids = tok("café ☕")["input_ids"]; [d.add(ids[: k + 1]) for k in range(len(ids))]  # doctest: +SKIP
['ca', 'fé', '', ' ☕']
"""

from __future__ import annotations

from typing import Any


class IncrementalText:
    """Offsets into a growing list of token ids; `add` returns the text its last token completes."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.prefix = 0  # the window's start: context for the first token not yet shown
        self.read = 0  # ids before this are shown
        self.decoded = 0  # ids decoded so far, every step together (the work a long answer costs)

    def add(self, ids: list[int]) -> str:
        """The text that ids[-1] adds to ids[:-1] (already shown), or "" while a character is incomplete."""
        shown = self._decode(ids[self.prefix : self.read])
        whole = self._decode(ids[self.prefix :])
        if len(whole) <= len(shown) or whole.endswith("\ufffd"):
            return ""  # an unfinished UTF-8 character, or a token that decodes to nothing (yet)
        self.prefix, self.read = self.read, len(ids)
        return whole[len(shown) :]

    def flush(self, ids: list[int]) -> str:
        """What an ended row still holds back, as the tokenizer decodes it (U+FFFD for a cut character)."""
        shown = self._decode(ids[self.prefix : self.read])
        whole = self._decode(ids[self.prefix :])
        self.prefix = self.read = len(ids)
        return whole[len(shown) :]

    def _decode(self, ids: list[int]) -> str:
        self.decoded += len(ids)
        return self.tokenizer.decode(ids, skip_special_tokens=True) if ids else ""
