"""Per-record UTF-8 repair: one bad byte costs one record's accents, never a whole file.

Bytes that are not UTF-8 are decoded as cp1252 (latin-1 for the five bytes cp1252 leaves undefined),
then ftfy fixes what that leaves (mojibake from a double decoding). A strict parser (ijson) gets them as
marker characters (`escape_invalid`), so the repair still happens per record, after parsing.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import ftfy

# A byte b that is not UTF-8 travels as U+DC00+b (errors="surrogateescape"), or through ijson, which
# accepts only valid UTF-8, as U+10FF00+b: the last 128 private-use code points of plane 16. A genuine
# character there would be repaired as a byte too; plane-16 private use is next to never seen in text.
_MARK = {0xDC00 + b: 0x10FF00 + b for b in range(0x80, 0x100)}
_UNMARK = {v: k for k, v in _MARK.items()}
_ESCAPED = re.compile("[\udc80-\udcff\U0010ff80-\U0010ffff]")


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start : err.end]
    return "".join(_one_byte(b) for b in bad), err.end


def _one_byte(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([b]).decode("latin-1")


codecs.register_error("lmforge_cp1252", _cp1252_fallback)


class BadEncoding(ValueError):
    """Raised under `encoding_errors: reject`; the message is the reject reason."""


def decode(raw: bytes, policy: str) -> tuple[str, bool]:
    """UTF-8 bytes -> (text, repaired).

    >>> decode(b"caf\\xe9", "repair")
    ('café', True)
    """
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError as e:
        if policy == "reject":
            raise BadEncoding(f"invalid UTF-8 at byte {e.start}") from None
        return ftfy.fix_text(raw.decode("utf-8", errors="lmforge_cp1252")), True


def repair_value(value: Any, policy: str) -> tuple[Any, bool]:
    """Repair every string (or bytes) inside a parsed row decoded with errors="surrogateescape" (or read
    through `escape_invalid`); ijson's Decimal reals become floats, as json.loads gives them.

    >>> repair_value({"t": "caf\\udce9", "x": Decimal("1.5")}, "repair")
    ({'t': 'café', 'x': 1.5}, True)
    """
    if isinstance(value, str):
        if not _ESCAPED.search(value):
            return value, False
        raw = value.translate(_UNMARK).encode("utf-8", errors="surrogateescape")
        return decode(raw, policy)[0], True
    if isinstance(value, Decimal):
        return float(value), False
    if isinstance(value, bytes):
        return decode(value, policy)
    if isinstance(value, dict):
        out, any_fixed = {}, False
        for k, v in value.items():
            out[k], fixed = repair_value(v, policy)
            any_fixed |= fixed
        return out, any_fixed
    if isinstance(value, list):
        pairs = [repair_value(v, policy) for v in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def escape_invalid(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    """Byte chunks -> (valid UTF-8 chunk, how many input bytes it stands for): each byte that is not
    UTF-8 becomes the marker U+10FF00+b, which `repair_value` turns back into the byte.

    >>> list(escape_invalid([b"caf\\xe9 ", b"\\xc3", b"\\xa9"]))
    [(b'caf\\xf4\\x8f\\xbf\\xa9 ', 5), (b'', 0), (b'\\xc3\\xa9', 2)]
    """
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        try:  # the usual case: valid, maybe ending inside a character that the next chunk completes
            _, n = codecs.utf_8_decode(data, "strict", False)
            out = data[:n] if n < len(data) else data
        except UnicodeDecodeError:
            text, n = codecs.utf_8_decode(data, "surrogateescape", False)
            out = text.translate(_MARK).encode("utf-8")
        pending = data[n:]
        yield out, n
    if pending:  # a character cut off by the end of the input
        text, n = codecs.utf_8_decode(pending, "surrogateescape", True)
        yield text.translate(_MARK).encode("utf-8"), n


def raw_length(escaped: bytes) -> int:
    """Input bytes behind a prefix of `escape_invalid`'s output (cut at a character boundary).

    >>> raw_length("caf\\U0010ffe9".encode())
    4
    """
    return len(escaped.decode("utf-8").translate(_UNMARK).encode("utf-8", errors="surrogateescape"))
