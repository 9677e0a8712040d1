"""The data appendix compressed once for both places it goes: embedded in the PDF (FlateDecode
streams) and offered beside it as a ZIP.

WeasyPrint deflates embedded files at level 9 and `zipfile` would deflate the same tens of
megabytes again; a raw deflate stream at level 6 serves both containers (a FlateDecode stream
is that stream with a zlib header and Adler-32 trailer, a ZIP entry the same stream with a
CRC-32), so the appendix is compressed once, in a worker thread while WeasyPrint lays out the
pages (zlib releases the GIL)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

LEVEL = 6
# DOS date and time of every ZIP entry: 2000-01-01 00:00 (same data, same bytes).
_DOS_DATE = ((2000 - 1980) << 9) | (1 << 5) | 1
_DOS_TIME = 0


@dataclass(frozen=True)
class Packed:
    name: str
    size: int
    md5: str
    crc32: int
    adler32: int
    deflated: bytes  # raw deflate (no header)

    @property
    def flate_stream(self) -> bytes:
        """The zlib format a PDF FlateDecode filter reads."""
        return b"\x78\x9c" + self.deflated + struct.pack(">I", self.adler32)


def pack(name: str, data: bytes) -> Packed:
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush()
    return Packed(name=name, size=len(data), md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                  crc32=zlib.crc32(data), adler32=zlib.adler32(data), deflated=deflated)


def zip_bytes(packed: list[Packed]) -> bytes:
    """A deterministic ZIP (sorted names, fixed times) of already deflated entries."""
    parts: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for p in sorted(packed, key=lambda p: p.name):
        name = p.name.encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, _DOS_TIME, _DOS_DATE, p.crc32,
                             len(p.deflated), p.size, len(name), 0)
        parts += [header, name, p.deflated]
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, 0, 8, _DOS_TIME, _DOS_DATE,
                                   p.crc32, len(p.deflated), p.size, len(name), 0, 0, 0, 0, 0o644 << 16, offset)
                       + name)
        offset += len(header) + len(name) + len(p.deflated)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join(parts) + directory + end


def use_packed_streams(packed: list[Packed]):
    """A WeasyPrint `finisher`: swap the embedded files' raw bytes (which pydyf would deflate at
    level 9) for the streams deflated already; the file specs WeasyPrint wrote stay as they are."""
    by_md5 = {p.md5: p for p in packed}

    def finish(document, pdf) -> None:
        import pydyf

        for obj in pdf.objects:
            if not isinstance(obj, pydyf.Stream) or obj.extra.get("Type") != "/EmbeddedFile":
                continue
            p = by_md5.get(str(obj.extra["Params"]["CheckSum"]).strip("<>"))
            if p is None:
                continue
            obj.stream = [p.flate_stream]
            obj.compress = False
            obj.extra["Filter"] = "/FlateDecode"

    return finish
