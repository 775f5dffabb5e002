"""Per-record UTF-8 repair: one bad byte costs one record's accents, never a whole file.

Bytes that are not UTF-8 are decoded as cp1252 (latin-1 for the five bytes cp1252 leaves undefined),
then ftfy fixes what that leaves (mojibake from a double decoding).
"""

from __future__ import annotations

import codecs
import re
from typing import Any

import ftfy

_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes smuggled through errors="surrogateescape"


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
    """Repair every string (or bytes) inside a parsed row decoded with errors="surrogateescape"."""
    if isinstance(value, str):
        if not _ESCAPED.search(value):
            return value, False
        return decode(value.encode("utf-8", errors="surrogateescape"), policy)[0], True
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
