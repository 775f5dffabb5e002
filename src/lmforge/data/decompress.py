"""Compressed inputs that end where the file stops being readable instead of raising.

gzip, bz2 and xz raise EOFError on a file cut before its end-of-stream marker, and an error of their own
on a damaged one (a bad CRC trailer, a corrupt block in the middle); either would cost every record of the
file, the complete ones before the damage included, and crash the run. zstd's stream reader ends silently
on a cut, which would lose the rest without a word. Here each stops cleanly and says why (`damage(f)`), so
a reader keeps what came before and adds one reject naming the file and the error.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import IO, Any

OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
ZSTD_READ = 1 << 14  # compressed bytes per zstd call: output stays small even at a high ratio
READ = "what came before the damage is read"
CUT = "compressed file cut off (a partial download?): what came before the cut is read"
# gzip: BadGzipFile (an OSError) or zlib.error; bz2: OSError("Invalid data stream"); xz: LZMAError
DAMAGED = (OSError, zlib.error, lzma.LZMAError)


def damaged(e: Exception) -> str:
    """The reject reason of a stream that raised part way.

    >>> damaged(OSError("Invalid data stream"))
    'damaged compressed file (OSError: Invalid data stream): what came before the damage is read'
    """
    what = f"{type(e).__name__}: {str(e)[:200]}" if str(e) else type(e).__name__
    return f"damaged compressed file ({what}): {READ}"


class _Stopping(io.RawIOBase):
    """gzip/bz2/xz: an EOFError or a decoding error becomes the end of the stream, remembered."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.problem: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.problem:
            return 0
        try:  # read1 returns what one input read decoded: the error comes on a read that decoded none
            data = self.inner.read1(len(b))
        except EOFError:
            self.problem = CUT
            return 0
        except DAMAGED as e:
            self.problem = damaged(e)
            return 0
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.inner.close()
        except DAMAGED:  # closing a damaged stream may raise again: the reader has said so already
            pass
        super().close()


class _Zstd(io.RawIOBase):
    """zstd, frame after frame (pzstd writes several); input that ends inside a frame is a cut."""

    def __init__(self, path: str) -> None:
        import zstandard

        self.error = zstandard.ZstdError
        self.new = zstandard.ZstdDecompressor().decompressobj
        self.f = open(path, "rb")  # noqa: SIM115 (closed in close)
        self.d = self.new()
        self.pending, self.pos = b"", 0
        self.fed = False  # input seen in the current frame
        self.problem: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.problem:
            return 0
        try:
            if not self._fill():
                return 0
        except self.error as e:
            self.problem = damaged(e)
            return 0
        n = min(len(b), len(self.pending) - self.pos)
        b[:n] = memoryview(self.pending)[self.pos : self.pos + n]
        self.pos += n
        return n

    def _fill(self) -> bool:
        """Decode until some output is pending; False at the end of the input."""
        while self.pos >= len(self.pending):
            chunk = self.d.unused_data if self.d.eof else b""
            if self.d.eof:
                self.d, self.fed = self.new(), False
            chunk = chunk or self.f.read(ZSTD_READ)
            if not chunk:
                self.problem = CUT if self.fed else None  # the input ended inside a frame
                return False
            self.fed = True
            self.pending, self.pos = self.d.decompress(chunk), 0
        return True

    def close(self) -> None:
        self.f.close()
        super().close()


class _UntilGarbage(io.RawIOBase):
    """A damaged stream whose check failed only after its data was handed out (gzip's CRC is checked at
    the end of a member, bz2's and xz's at the end of a block): what a corrupt deflate block decodes to
    came out as text. The stream ends before the first line that is not UTF-8; the lines before it are
    read. (Garbage that happens to be valid UTF-8 would pass: with random bytes, a line rarely is.)"""

    def __init__(self, inner: IO[bytes], reason: str) -> None:
        self.inner, self.reason = inner, reason
        self.ready, self.partial, self.done = b"", b"", False
        self.problem: str | None = None
        self.offset = 0  # decompressed bytes handed out

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self.ready and not self.done:
            chunk = self.inner.read(1 << 16)
            data, self.partial = self.partial + chunk, b""
            if chunk:  # whole lines only: a newline byte never sits inside a UTF-8 character
                cut = data.rfind(b"\n") + 1
                data, self.partial = data[:cut], data[cut:]
            else:
                self.done = True
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                data, self.done = data[: data.rfind(b"\n", 0, e.start) + 1], True
                at = self.offset + len(data)
                self.reason = self.reason.replace(
                    READ, f"read up to byte {at:,}, the first line that is not text"
                )
            self.ready = data
            if self.done:
                self.problem = self.reason
        n = min(len(b), len(self.ready))
        b[:n] = self.ready[:n]
        self.ready, self.offset = self.ready[n:], self.offset + n
        return n

    def close(self) -> None:
        self.inner.close()
        super().close()


def _raw(path: str, compression: str) -> io.RawIOBase:
    return _Zstd(path) if compression == ".zst" else _Stopping(OPENERS[compression](path, "rb"))


def _problem(path: str, compression: str) -> str | None:
    """Decompress the whole file once, discarding it: why it ends early, or None."""
    with _raw(path, compression) as f:
        while f.read(1 << 20):
            pass
        return f.problem


def open_compressed(path: str, compression: str, text: bool = True) -> IO[bytes]:
    """A buffered binary stream of the decompressed file (iterates by line, reads, wraps in text).

    A text file that turns out damaged (one pass over it first) ends before the first line that is not
    UTF-8 (`_UntilGarbage`); a file cut off needs no such care: what came before the cut is intact."""
    problem = _problem(path, compression) if text else None
    raw: io.RawIOBase = _raw(path, compression)
    if problem and problem != CUT:
        raw = _UntilGarbage(raw, problem)
    return io.BufferedReader(raw, 1 << 16)


def damage(f: IO[bytes]) -> str | None:
    """Why a stream from `open_compressed` ended early (cut off or damaged), once it has; else None."""
    return getattr(getattr(f, "raw", None), "problem", None)
