"""A reproducible ZIP written entry by entry: fixed timestamps and permissions, every entry's
SHA-256 and size recorded as it streams through, so nothing is held whole in memory."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from releaseportal.csvexport import CsvWriter

from .zipstream import ZipStreamWriter

_ZERO = dt.timedelta(0)


def _default(value: Any) -> Any:
    """Types the C encoder does not know, written exactly as sources.json_value writes them."""
    from .sources import json_value

    if type(value) is dt.datetime and value.utcoffset() == _ZERO and value.year >= 1000:
        # The common case (times read back in UTC), formatted as chain.format_time does, faster.
        return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    converted = json_value(value)
    if converted is value:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return converted


def dumps(obj: Any) -> bytes:
    """Indented JSON, for the few files people open first (manifest, checkpoint)."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, default=_default) + "\n").encode("utf-8")


# One encoder for every compact file: json.dumps with options builds a new one per call, a
# quarter of the cost of encoding a small per-change file.
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def dumps_compact(obj: Any) -> bytes:
    """Compact JSON for the bulk of a pack: the C encoder only runs without indent, which makes
    tens of thousands of per-change files several times cheaper."""
    return (_COMPACT.encode(obj) + "\n").encode("utf-8")


dumps_line = dumps_compact


def dumps_manifest(manifest: dict[str, Any]) -> bytes:
    """Indented, except the two long lists (files, event files): one compact entry per line, so a
    manifest of 100,000 files is written by the C encoder and still reads line by line."""
    body = dict(manifest)
    files = body.pop("files")
    audit = dict(body.get("audit") or {})
    event_files = audit.pop("event_files", [])
    body["files"], audit["event_files"], body["audit"] = "@@FILES@@", "@@EVENT_FILES@@", audit
    text = json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False, default=_default)

    def block(items: list[Any], pad: str) -> str:
        if not items:
            return "[]"
        inner = ",\n".join(pad + "  " + json.dumps(item, sort_keys=True, ensure_ascii=False, default=_default)
                            for item in items)
        return "[\n" + inner + "\n" + pad + "]"

    text = text.replace('"@@FILES@@"', block(files, "  ")).replace('"@@EVENT_FILES@@"', block(event_files, "    "))
    return (text + "\n").encode("utf-8")


class _Entry:
    """A writable ZIP entry that hashes what passes through; accepts str (for csv) or bytes."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: str | bytes) -> int:
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.digest.update(data)
        self.size += len(data)
        self._stream.write(data)
        return len(data)


class PackWriter:
    def __init__(self, fileobj: IO[bytes]) -> None:
        # Level 1: most entries are a few hundred bytes of JSON, where level 6 costs a quarter
        # more time for ~3% less size.
        self.zip = ZipStreamWriter(fileobj, level=1)
        # path -> (sha256, size): tuples, not dicts, since a big pack lists ~100,000 files.
        self.files: dict[str, tuple[str, int]] = {}

    @contextmanager
    def open(self, path: str) -> Iterator[_Entry]:
        if path in self.files:
            raise ValueError(f"{path} written twice")
        with self.zip.open(path) as stream:
            entry = _Entry(stream)
            yield entry
        self.files[path] = (entry.digest.hexdigest(), entry.size)

    def write_bytes(self, path: str, data: bytes) -> None:
        if path in self.files:
            raise ValueError(f"{path} written twice")
        self.zip.write(path, data)
        self.files[path] = (hashlib.sha256(data).hexdigest(), len(data))

    def write_json(self, path: str, obj: Any, *, indent: bool = False) -> None:
        self.write_bytes(path, dumps(obj) if indent else dumps_compact(obj))

    def write_jsonl(self, path: str, rows) -> None:
        # Lines are gathered into ~256 KB blocks: one compressor call per block, not per line.
        # A file that fits one block (most per-change files) is written whole.
        iterator = iter(rows)
        block: list[bytes] = []
        size = 0
        for item in iterator:
            line = dumps_line(item)
            block.append(line)
            size += len(line)
            if size >= 256 * 1024:
                break
        else:
            self.write_bytes(path, b"".join(block))
            return
        with self.open(path) as entry:
            entry.write(b"".join(block))
            block, size = [], 0
            for item in iterator:
                line = dumps_line(item)
                block.append(line)
                size += len(line)
                if size >= 256 * 1024:
                    entry.write(b"".join(block))
                    block, size = [], 0
            if block:
                entry.write(b"".join(block))

    def copy_from(self, path: str, source: IO[bytes]) -> None:
        source.seek(0)
        with self.open(path) as entry:
            shutil.copyfileobj(source, entry, 1024 * 1024)

    def manifest_files(self) -> list[dict[str, Any]]:
        return [{"path": name, "sha256": self.files[name][0], "size": self.files[name][1]}
                for name in sorted(self.files)]

    def close(self) -> None:
        self.zip.close()


class CsvSpool:
    """CSV rows written to a spooled temp file (memory up to a few MB, then disk), because a
    ZIP accepts one open entry at a time and listings are filled in during other passes."""

    def __init__(self, header: list[str]) -> None:
        import tempfile

        self.file = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b")  # noqa: SIM115 (closed with the pack)
        # The shared writer: cells are neutralised against spreadsheet formulas (issue #17).
        self._writer = CsvWriter(self)
        self.rows = 0
        self._writer.writerow(header)

    def write(self, data: str) -> int:
        return self.file.write(data.encode("utf-8"))

    def writerow(self, values: list[Any]) -> None:
        self._writer.writerow(values)
        self.rows += 1

    def append_to(self, other: CsvSpool) -> None:
        """Copy this spool's rows (without its header line) into another spool."""
        self.file.seek(0)
        self.file.readline()
        shutil.copyfileobj(self.file, other.file)
        other.rows += self.rows
        self.file.seek(0, 2)
