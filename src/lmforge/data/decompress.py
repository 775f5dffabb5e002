"""Compressed inputs that end where a cut-off file ends (a partial download) instead of raising.

gzip, bz2 and xz raise EOFError on a file cut before its end-of-stream marker, which would cost every
record of the file, the complete ones before the cut included; zstd's stream reader ends silently, which
would lose the rest without a word. Here each stops cleanly and says so (`cut_off(f)`), so a reader keeps
what came before and adds one reject naming the cut.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from typing import IO, Any

OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
ZSTD_READ = 1 << 14  # compressed bytes per zstd call: output stays small even at a high ratio


class _Stopping(io.RawIOBase):
    """gzip/bz2/xz: an EOFError at the end of the input becomes the end of the stream."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.truncated:
            return 0
        try:  # read1 returns what one input read decoded: the error comes on a read that decoded none
            data = self.inner.read1(len(b))
        except EOFError:
            self.truncated = True
            return 0
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


class _Zstd(io.RawIOBase):
    """zstd, frame after frame (pzstd writes several); input that ends inside a frame is a cut."""

    def __init__(self, path: str) -> None:
        import zstandard

        self.new = zstandard.ZstdDecompressor().decompressobj
        self.f = open(path, "rb")  # noqa: SIM115 (closed in close)
        self.d = self.new()
        self.pending, self.pos = b"", 0
        self.fed = False  # input seen in the current frame
        self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self.pos >= len(self.pending):
            chunk = self.d.unused_data if self.d.eof else b""
            if self.d.eof:
                self.d, self.fed = self.new(), False
            chunk = chunk or self.f.read(ZSTD_READ)
            if not chunk:
                self.truncated = self.fed  # the input ended inside a frame
                return 0
            self.fed = True
            self.pending, self.pos = self.d.decompress(chunk), 0
        n = min(len(b), len(self.pending) - self.pos)
        b[:n] = memoryview(self.pending)[self.pos : self.pos + n]
        self.pos += n
        return n

    def close(self) -> None:
        self.f.close()
        super().close()


def open_compressed(path: str, compression: str) -> IO[bytes]:
    """A buffered binary stream of the decompressed file (iterates by line, reads, wraps in text)."""
    raw = _Zstd(path) if compression == ".zst" else _Stopping(OPENERS[compression](path, "rb"))
    return io.BufferedReader(raw, 1 << 16)


def cut_off(f: IO[bytes]) -> bool:
    """True once a stream from `open_compressed` has met the end of a file cut short."""
    return bool(getattr(getattr(f, "raw", None), "truncated", False))
