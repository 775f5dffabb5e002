"""`.json` files read in bounded memory with ijson (its C backend, yajl), one element at a time.

An array streams element by element. One cut off (a partial download) or broken part way keeps every
complete element before the break; the rest of the file is one reject whose reason names the byte where
the broken element starts. An object of arrays (columns) streams each column from its own pass over the
file; one object is one record. An object that does not parse is one reject (its rows cannot be told
apart). Ids are as json.loads gave them: `items.json:3` (element or row, from 0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import zip_longest
from typing import IO, Any

import ijson

from lmforge.data.decode import escape_invalid, raw_length
from lmforge.data.decompress import damage
from lmforge.data.sources import Shard, open_bytes

CHUNK = 1 << 16  # bytes per parser call (ijson's own buffer size)
TAIL_BYTES = 100_000  # bytes of a broken tail kept in rejects.jsonl
WS = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
Part = tuple[str, Any, "str | None", str]  # (id, parsed value, reject reason, raw text of the reject)

# yajl raises mid-file on a lone UTF-16 surrogate escape (`\udc00` without its pair, e.g. text cut inside
# an emoji). It becomes `\ufffd` (U+FFFD), the same six bytes, so offsets stay those of the file.
_SURROGATE = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u(?:[dD][89abAB][0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|[dD][c-fC-F][0-9a-fA-F]{2})"
)
_HOLD = 12  # a surrogate pair's length: the end of a chunk waits for the next one, never judged cut


def read_json(shard: Shard) -> Iterator[Part]:
    """Dispatch on the first byte that is not whitespace: `[` array, `{` object, else a scalar.
    A compressed file cut off or damaged adds one reject naming the file and the error."""
    first = _first_byte(shard)
    if first is None:
        yield shard.rel, None, _damage_of(shard) or "empty file", ""
    elif first[1] == ord("["):
        yield from _array(shard, first[0])
    else:
        yield from _object(shard) if first[1] == ord("{") else _scalar(shard)
        if problem := _damage_of(shard):  # one more pass: objects and scalars are small or rare
            yield shard.rel, None, problem, ""


def _damage_of(shard: Shard) -> str | None:
    """Why a compressed file stops early (a pass over it), or None."""
    if not shard.compression:
        return None
    with open_bytes(shard.path, shard.compression) as f:
        while f.read(1 << 20):
            pass
        return damage(f)


def _array(shard: Shard, bracket: int) -> Iterator[Part]:
    items = ijson.sendable_list()
    coro = ijson.items_coro(items, "item")
    k, done_in, size, error = 0, bracket, 0, None  # done_in: piece where element k-1 completed
    problems: list[str] = []  # the main pass notes a damaged compressed stream here
    pieces = _pieces(shard, problems)
    try:
        for piece, pos, n in pieces:
            size = pos + n
            try:
                coro.send(piece)
            except (ijson.JSONError, UnicodeDecodeError) as e:
                error = e
            if items:
                done_in = pos
            for value in items:
                yield f"{shard.rel}:{k}", value, None, ""
                k += 1
            del items[:]
            if error:
                break
        else:
            try:
                coro.close()
            except (ijson.JSONError, UnicodeDecodeError) as e:
                error = e
    finally:
        pieces.close()
    if error is not None and not problems:  # the JSON broke first: is the stream damaged further on?
        problems += filter(None, [_damage_of(shard)])
    if error is not None:
        yield _broken(shard, k, done_in, bracket, size, error)
    elif k == 0 and not problems:
        yield shard.rel, None, "empty file", ""
    if problems:
        yield shard.rel, None, problems[0], ""


def _broken(shard: Shard, k: int, done_in: int, bracket: int, size: int, error: Exception) -> Part:
    """The reject that holds the rest of an array from its broken (or cut) element k on."""
    end = _element_end(shard, k, done_in) if k else bracket + 1
    start, raw = _tail(shard, end)
    msg, kept = _message(error), f"{k} element{'s' if k != 1 else ''} before it kept"
    if "premature EOF" in msg:
        cut = f"element {k} from byte {start} is cut off after {size - start} bytes"
        reason = f"truncated JSON array ({cut}; {kept})"
    else:
        where = f"in element {k} from byte {start}"
        reason = f"malformed JSON ({msg} {where}; {kept}, the rest of the file is this reject)"
    return f"{shard.rel}:{k}", None, reason, raw


def _element_end(shard: Shard, k: int, piece_at: int) -> int:
    """File offset just after element k-1: the parse is replayed to the piece where that element
    completed, then byte by byte through it (paid once, and only for a broken file)."""
    items = ijson.sendable_list()
    coro = ijson.items_coro(items, "item")
    count = 0
    pieces = _pieces(shard)
    try:
        for piece, pos, n in pieces:
            if pos < piece_at:
                coro.send(piece)
                count += len(items)
                del items[:]
                continue
            for p in range(len(piece)):
                coro.send(piece[p : p + 1])
                count += len(items)
                del items[:]
                if count >= k:
                    return pos + (p + 1 if n == len(piece) else raw_length(piece[: p + 1]))
    finally:
        pieces.close()
    raise AssertionError("the replay did not reach the element")  # the file changed while read


def _tail(shard: Shard, end: int) -> tuple[int, str]:
    """(offset of the first byte after `end` that is not whitespace or the comma, text from there)."""
    with open_bytes(shard.path, shard.compression) as f:
        _skip(f, end)
        head = _read(f, TAIL_BYTES + 256)
    rest = head.lstrip(WS)
    if rest.startswith(b","):
        rest = rest[1:].lstrip(WS)
    return end + len(head) - len(rest), rest[:TAIL_BYTES].decode("utf-8", "replace")


def _object(shard: Shard) -> Iterator[Part]:
    keys, error = _columns(shard)
    if error:
        yield shard.rel, None, f"malformed JSON file ({error})", _tail(shard, 0)[1]
        return
    if keys is None:  # one object: one record
        yield f"{shard.rel}:0", next(_values(shard, "")), None, ""
        return
    i = -1
    for i, row in enumerate(zip_longest(*(_values(shard, f"{key}.item") for key in keys))):
        yield f"{shard.rel}:{i}", dict(zip(keys, row, strict=True)), None, ""
    if i < 0:
        yield shard.rel, None, "empty file", ""


def _columns(shard: Shard) -> tuple[list[str] | None, str | None]:
    """(the keys when every top-level value is an array, else None; the parse error) in one pass."""
    events = ijson.sendable_list()
    coro = ijson.parse_coro(events)
    keys: list[str] = []
    columns, after_key = True, False
    try:
        for piece, _, _ in _pieces(shard):
            coro.send(piece)
            for prefix, event, value in events:
                if after_key:  # the first event of a top-level value
                    columns, after_key = columns and event == "start_array", False
                if prefix == "" and event == "map_key":
                    keys.append(value)
                    after_key = True
            del events[:]
        coro.close()
    except (ijson.JSONError, UnicodeDecodeError) as e:
        return None, _message(e)
    return (list(dict.fromkeys(keys)) if keys and columns else None), None


def _scalar(shard: Shard) -> Iterator[Part]:
    try:
        value = next(_values(shard, ""))
    except (ijson.JSONError, UnicodeDecodeError) as e:
        yield shard.rel, None, f"malformed JSON file ({_message(e)})", _tail(shard, 0)[1]
        return
    kind = "float" if isinstance(value, Decimal) else type(value).__name__
    yield shard.rel, None, f"JSON file holds a {kind}, not an array or object", _tail(shard, 0)[1]


def _values(shard: Shard, prefix: str) -> Iterator[Any]:
    """The values at an ijson prefix (`""` the whole document, `"text.item"` a column's elements)."""
    items = ijson.sendable_list()
    coro = ijson.items_coro(items, prefix)
    for piece, _, _ in _pieces(shard):
        coro.send(piece)
        yield from items
        del items[:]
    coro.close()
    yield from items


def _first_byte(shard: Shard) -> tuple[int, int] | None:
    """(file offset, byte) of the first byte that is not whitespace (after a BOM); None for an empty file."""
    for piece, pos, n in _pieces(shard):
        rest = piece.lstrip(WS)
        if rest:
            skipped = len(piece) - len(rest)
            return pos + (skipped if n == len(piece) else raw_length(piece[:skipped])), rest[0]
    return None


def _pieces(shard: Shard, problems: list[str] | None = None) -> Iterator[tuple[bytes, int, int]]:
    """The file as valid UTF-8 pieces for ijson: (piece, file offset, file bytes it stands for); at the
    end, why a compressed stream stopped early is appended to `problems`.

    The same file always gives the same pieces (whole CHUNK reads), which `_element_end` relies on.
    """
    with open_bytes(shard.path, shard.compression) as f:
        first = _read(f, CHUNK)
        pos = len(BOM) if first.startswith(BOM) else 0
        for piece, n in escape_invalid(fix_surrogates(_chunks(first[pos:], f))):
            yield piece, pos, n
            pos += n
        if problems is not None and (problem := damage(f)):
            problems.append(problem)


def fix_surrogates(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """JSON text chunks with every lone surrogate escape replaced by `\\ufffd` (pairs kept).

    >>> b"".join(fix_surrogates([b'["\\\\ud83d\\\\ude00", "\\\\ud8', b'3d x", "\\\\\\\\udc00"]']))
    b'["\\\\ud83d\\\\ude00", "\\\\ufffd x", "\\\\\\\\udc00"]'
    """
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        cut = _safe_cut(data, len(data) - _HOLD)
        if cut <= 0:
            pending = data
            continue
        yield _replace(data[:cut])
        pending = data[cut:]
    if pending:
        yield _replace(pending)


def _safe_cut(data: bytes, cut: int) -> int:
    """A cut at or before `cut` that splits no backslash run and no surrogate escape."""
    while cut > 0 and data[cut - 1] == 0x5C:  # a backslash: its run decides what follows
        cut -= 1
    if cut <= 0 or b"\\u" not in data[max(0, cut - _HOLD) :]:
        return cut
    pos = max(0, cut - 2 * _HOLD)
    while pos > 0 and data[pos - 1] == 0x5C:
        pos -= 1
    for m in _SURROGATE.finditer(data, pos):
        if m.start() >= cut:
            break
        if m.end() > cut:
            return m.start()  # the escape crosses the cut: it waits for the next chunk whole
    return cut


def _replace(data: bytes) -> bytes:
    if b"\\u" not in data:
        return data
    return _SURROGATE.sub(lambda m: m.group(0) if m.group(2) else m.group(1) + b"\\ufffd", data)


def _chunks(first: bytes, f: IO[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    while chunk := _read(f, CHUNK):
        yield chunk


def _read(f: IO[bytes], n: int) -> bytes:
    """Exactly n bytes unless the file ends first (decompressors may return fewer per call)."""
    out = f.read(n)
    while out and len(out) < n:
        more = f.read(n - len(out))
        if not more:
            break
        out += more
    return out


def _skip(f: IO[bytes], n: int) -> None:
    while n > 0:
        block = f.read(min(n, 1 << 20))
        if not block:
            return
        n -= len(block)


def _message(e: Exception) -> str:
    """yajl's first line: `parse error: premature EOF`."""
    msg = e.args[0] if e.args else str(e)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    msg = str(msg).strip()
    return msg.splitlines()[0].rstrip(".") if msg else type(e).__name__
