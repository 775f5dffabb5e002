"""near_dedup's shingles as 64-bit hashes, computed with numpy over a whole batch of texts.

Building each word 5-gram as a Python string took ~85% of near_dedup's time; here each text is normalised
with `lower`/`translate` (no word list), the batch's words are hashed from their UTF-8 bytes in numpy
(rensa, the MinHash library, hashes Python objects one by one, which is what was slow), and each
n-gram's hash combines its n word hashes by position; rensa then signs the n-gram hashes. The words are
those of `dedup.dedup_words`; tests check that each string shingle has one hash and each hash one string.
Deterministic: no per-process salt (no Python `hash`). Chinese, Japanese, Korean and Thai text is cut into
the language's words first (words.py); ASCII text takes the fast path as before.
"""

from __future__ import annotations

import re

import numpy as np

from lmforge.data.words import MARKS, has_segments, split

# combining marks (Thai vowels, Devanagari matras) belong to their word, so they are not punctuation
PUNCT = re.compile(rf"[^\w\s{MARKS}]+")
# the ASCII characters that are neither \w nor \s: on ASCII text (most text) str.translate removes them
# ~15x faster than the regex, and the words are the same
ASCII_PUNCT = {c: " " for c in range(128) if not re.match(r"[\w\s]", chr(c))}
# texts of a batch are joined with this separator word; normalising turns any in a text into a space
_SEP = "\x00"
_ALL = np.uint64(2**64 - 1)
# odd weights of a word's position in an n-gram, tags of an n-gram's length (n, or fewer words for a short
# text), and the weight of a word's length in its hash
_RNG = np.random.default_rng(1)
_WEIGHT, _TAG = _RNG.integers(1, 2**63, size=(2, 64), dtype=np.uint64) | np.uint64(1)
_LEN_C = np.uint64(_RNG.integers(1, 2**63) | 1)


def punct_to_space(text: str) -> str:
    """Lowercase, punctuation replaced by spaces; split() gives the words: `"Hi, 2 You!"` -> `"hi  2 you "`.
    A non-ASCII text also has its whitespace collapsed to single ASCII spaces, for `word_hashes`, and
    its Chinese/Japanese/Korean/Thai runs cut into words: `"我喜欢猫。"` -> `"我 喜欢 猫"`."""
    low = text.lower()
    if low.isascii():
        return low.translate(ASCII_PUNCT)
    if has_segments(low):
        return " ".join(split(low, _punct_words))
    return " ".join(PUNCT.sub(" ", low).split())


def _punct_words(text: str) -> list[str]:
    return PUNCT.sub(" ", text).split()


def word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, lens): a 64-bit hash of each word of the normalised texts (lowercase, punctuation removed),
    all texts one after the other, and each text's word count.

    >>> hashes, lens = word_hashes(["Hi, you!", "", "YOU"])
    >>> lens.tolist(), bool(hashes[1] == hashes[2])
    ([2, 0, 1], True)
    """
    if not texts:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    low = f" {_SEP} ".join(map(punct_to_space, texts))
    b = np.frombuffer(low.encode("utf-8"), dtype=np.uint8)  # (B,) bytes; words are runs of non-space
    # whitespace is now bytes 1..32 (the ASCII control characters that are not \s were punctuation)
    space = np.concatenate([[True], b - np.uint8(1) < 32, [True]])  # (B + 2,); 0 (the separator) wraps to 255
    edge = np.diff(space.astype(np.int8))  # -1: a word starts, 1: it ends
    starts, ends = np.nonzero(edge == -1)[0], np.nonzero(edge == 1)[0]  # (W,) each
    hashes = _bytes_hash(b, starts, ends)
    seps = np.nonzero((b[starts] == 0) & (ends - starts == 1))[0]  # the separator words
    lens = np.diff(np.concatenate([[-1], seps, [len(starts)]])) - 1
    return np.delete(hashes, seps), lens


def _bytes_hash(b: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(W,) hash of each word b[starts[i]:ends[i]], 8 bytes at a time: a word of up to 8 bytes is one
    little-endian integer (exact), mixed with its length; longer words mix in their next 8 bytes in turn."""
    lens = ends - starts
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([b, np.zeros(8, np.uint8)]), 8)
    acc = lens.astype(np.uint64) * _LEN_C
    sel = np.arange(len(starts))
    for k in range(0, int(lens.max(initial=0)), 8):
        sel = sel[lens[sel] > k]  # the words still that long
        # (w,) their bytes k..k+7 as one integer, the bytes past the word's end masked off
        chunk = np.ascontiguousarray(windows[starts[sel] + k]).view("<u8")[:, 0]
        rest = np.minimum(lens[sel] - k, 8).astype(np.uint64)
        mask = _ALL >> (np.uint64(64) - rest * np.uint64(8))  # the low `rest` bytes
        acc[sel] = mix64(acc[sel] + (chunk & mask))
    return acc


def ngram_hashes(h: np.ndarray, lens: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of each text's word n-grams from its word hashes (`word_hashes`): each n-gram
    combines its n word hashes by position. A text shorter than n words is one shingle. Returns
    (flat, offsets): text i's hashes are flat[offsets[i]:offsets[i + 1]].

    >>> flat, offsets = ngram_hashes(*word_hashes(["a b c", "x"]), 2)   # ("a b", "b c"), ("x",)
    >>> offsets.tolist(), len(flat)
    ([0, 2, 3], 3)
    """
    starts = np.cumsum(lens) - lens  # (D,) first word of each text
    offsets = np.concatenate([[0], np.cumsum(np.maximum(lens - n + 1, 1))])  # (D + 1,)
    out = np.empty(offsets[-1], dtype=np.uint64)
    # full n-grams: word position p starts one when its text has n - 1 more words after it
    acc = np.full(len(h), _TAG[n])
    padded = np.concatenate([h, np.zeros(n, dtype=np.uint64)])
    for k in range(n):
        acc += padded[k : k + len(h)] * _WEIGHT[k]  # wraps mod 2**64 on purpose
    doc = np.repeat(np.arange(len(lens)), lens)  # (N,) text of each word
    pos = np.arange(len(h)) - starts[doc]  # (N,) position in its text
    ok = pos <= (lens - n)[doc]
    out[offsets[doc[ok]] + pos[ok]] = acc[ok]
    # texts shorter than n words: one shingle of all their words (maybe none)
    short = np.nonzero(lens < n)[0]
    acc_short = _TAG[lens[short]]
    for k in range(n - 1):
        has = lens[short] > k
        acc_short[has] += h[starts[short][has] + k] * _WEIGHT[k]
    out[offsets[short]] = acc_short
    return mix64(out), offsets


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the bits of the sums above, so that equal hashes mean equal inputs."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
