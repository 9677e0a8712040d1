"""A small, append-only ZIP writer for evidence packs.

Python's zipfile spends most of a pack's ZIP time on per-entry bookkeeping: a compressor
object per entry, a header written, then seeked back to and rewritten once the sizes are
known, and a ZipInfo object per entry kept until the end. A pack has ~8 small files per
change, so that overhead dominated. Here an entry held in memory is compressed in one call
and written once with its sizes; an entry streamed from elsewhere (CSV spools, documents) is
followed by a data descriptor, so nothing is ever rewritten and the target need not be
seekable. The central directory keeps one small tuple per entry.

Format (PKWARE APPNOTE 6.3): local headers, data, central directory, and the ZIP64 end
records whenever an entry count, size or offset does not fit the classic fields. Every entry
has the fixed time 1980-01-01 00:00 and mode 0644, so the same files give the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

DEFLATED, STORED = 8, 0
# Tiny entries ("[]\n") grow when deflated; they are stored as they are.
STORE_BELOW = 64
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_DOS_TIME = 0
_UTF8 = 0x800
_DESCRIPTOR = 0x8
_MADE_BY = (3 << 8) | 45  # Unix, version 4.5 (ZIP64)
_MODE = (0o100644 << 16)
_MAX32 = 0xFFFFFFFF
_MAX16 = 0xFFFF

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_DESCRIPTOR64 = struct.Struct("<4sLQQ")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_END = struct.Struct("<4s4H2LH")


def deflate(data: bytes, level: int) -> bytes:
    """Raw deflate sized to the data. zlib's default state (32 KB window, memLevel 8) is
    ~260 KB allocated and cleared per call, which for a 300-byte file costs 20x the
    compression itself; a window no larger than the data finds the same matches. Any inflater
    (windowBits 15) reads a stream made with a smaller window."""
    size = len(data)
    if size >= 1 << 15:
        return zlib.compress(data, level, wbits=-15)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -max(9, size.bit_length()), 4 if size < 4096 else 8)
    return compressor.compress(data) + compressor.flush()


class _Stream:
    """A writable entry: deflates and counts what passes through."""

    def __init__(self, out: Callable[[bytes], None], level: int) -> None:
        self._out = out
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.crc = 0
        self.size = 0
        self.compressed = 0

    def write(self, data: bytes) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        packed = self._compressor.compress(data)
        if packed:
            self._out(packed)
            self.compressed += len(packed)
        return len(data)

    def finish(self) -> None:
        tail = self._compressor.flush()
        self._out(tail)
        self.compressed += len(tail)


class ZipStreamWriter:
    def __init__(self, out: IO[bytes], *, level: int = 6) -> None:
        self._out = out
        self._level = level
        self._offset = 0
        # (name, flags, method, crc, compressed size, size, local header offset)
        self._entries: list[tuple[bytes, int, int, int, int, int, int]] = []
        self._closed = False

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)

    def write(self, name: str, data: bytes) -> None:
        """One entry whose bytes are all at hand: compressed once, header written once."""
        encoded = name.encode("utf-8")
        crc = zlib.crc32(data)
        if len(data) < STORE_BELOW:
            method, packed = STORED, data
        else:
            method, packed = DEFLATED, deflate(data, self._level)
        if len(data) >= _MAX32 or len(packed) >= _MAX32:
            # Too big for the classic fields: stream it, which writes ZIP64 sizes.
            with self.open(name) as entry:
                entry.write(data)
            return
        offset = self._offset
        self._write(_LOCAL.pack(b"PK\x03\x04", 20, _UTF8, method, _DOS_TIME, _DOS_DATE, crc, len(packed),
                                len(data), len(encoded), 0) + encoded)
        self._write(packed)
        self._entries.append((encoded, _UTF8, method, crc, len(packed), len(data), offset))

    @contextmanager
    def open(self, name: str) -> Iterator[_Stream]:
        """An entry written as it streams; its sizes follow the data in a ZIP64 data descriptor."""
        encoded = name.encode("utf-8")
        flags = _UTF8 | _DESCRIPTOR
        offset = self._offset
        # The ZIP64 extra field in the local header says the descriptor carries 8-byte sizes.
        extra = struct.pack("<2H2Q", 1, 16, 0, 0)
        self._write(_LOCAL.pack(b"PK\x03\x04", 45, flags, DEFLATED, _DOS_TIME, _DOS_DATE, 0, _MAX32, _MAX32,
                                len(encoded), len(extra)) + encoded + extra)
        stream = _Stream(self._write, self._level)
        yield stream
        stream.finish()
        self._write(_DESCRIPTOR64.pack(b"PK\x07\x08", stream.crc, stream.compressed, stream.size))
        self._entries.append((encoded, flags, DEFLATED, stream.crc, stream.compressed, stream.size, offset))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        start = self._offset
        block: list[bytes] = []
        for name, flags, method, crc, compressed, size, offset in self._entries:
            big = [value for value in (size, compressed, offset) if value >= _MAX32]
            extra = struct.pack(f"<2H{len(big)}Q", 1, 8 * len(big), *big) if big else b""
            block.append(_CENTRAL.pack(
                b"PK\x01\x02", _MADE_BY, 45 if big or flags & _DESCRIPTOR else 20, flags, method, _DOS_TIME, _DOS_DATE,
                crc, _MAX32 if compressed >= _MAX32 else compressed, _MAX32 if size >= _MAX32 else size,
                len(name), len(extra), 0, 0, 0, _MODE, _MAX32 if offset >= _MAX32 else offset) + name + extra)
            if len(block) >= 4096:
                self._write(b"".join(block))
                block = []
        self._write(b"".join(block))
        directory_size = self._offset - start
        count = len(self._entries)
        if count >= _MAX16 or start >= _MAX32 or directory_size >= _MAX32:
            end64 = self._offset
            self._write(_END64.pack(b"PK\x06\x06", 44, _MADE_BY, 45, 0, 0, count, count, directory_size, start))
            self._write(_LOCATOR64.pack(b"PK\x06\x07", 0, end64, 1))
        self._write(_END.pack(b"PK\x05\x06", 0, 0, min(count, _MAX16), min(count, _MAX16),
                              min(directory_size, _MAX32), min(start, _MAX32), 0))
        self._entries = []
