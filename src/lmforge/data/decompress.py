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
CUT = "compressed file cut off (a partial download?): what came before the cut is read"
# gzip: BadGzipFile (an OSError) or zlib.error; bz2: OSError("Invalid data stream"); xz: LZMAError
DAMAGED = (OSError, zlib.error, lzma.LZMAError)


def damaged(e: Exception) -> str:
    """The reject reason of a stream that raised part way.

    >>> damaged(OSError("Invalid data stream"))
    'damaged compressed file (OSError: Invalid data stream): what came before the damage is read'
    """
    what = f"{type(e).__name__}: {str(e)[:200]}" if str(e) else type(e).__name__
    return f"damaged compressed file ({what}): what came before the damage is read"


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


def open_compressed(path: str, compression: str) -> IO[bytes]:
    """A buffered binary stream of the decompressed file (iterates by line, reads, wraps in text)."""
    raw = _Zstd(path) if compression == ".zst" else _Stopping(OPENERS[compression](path, "rb"))
    return io.BufferedReader(raw, 1 << 16)


def damage(f: IO[bytes]) -> str | None:
    """Why a stream from `open_compressed` ended early (cut off or damaged), once it has; else None."""
    return getattr(getattr(f, "raw", None), "problem", None)
