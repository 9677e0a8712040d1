"""The appendix is deflated once and serves both the PDF's embedded files and the ZIP."""

from __future__ import annotations

import io
import zipfile
import zlib

import pandas as pd

from apps.reports.appendix import _ts
from apps.reports.attachments import pack, zip_bytes

FILES = {"b.csv": b"x,y\n1,2\n" * 5000, "a.csv": b"", "c.csv": "café,\u2603\n".encode()}


def test_the_zip_holds_every_file_verified_by_its_crc_in_name_order():
    data = zip_bytes([pack(name, body) for name, body in FILES.items()])
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.namelist() == ["a.csv", "b.csv", "c.csv"]
    assert {name: archive.read(name) for name in archive.namelist()} == FILES
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_the_same_data_gives_the_same_zip_bytes():
    first = zip_bytes([pack(name, body) for name, body in FILES.items()])
    again = zip_bytes([pack(name, body) for name, body in reversed(FILES.items())])
    assert first == again


def test_the_pdf_stream_is_the_same_deflate_in_zlib_format():
    packed = pack("b.csv", FILES["b.csv"])
    assert zlib.decompress(packed.flate_stream) == FILES["b.csv"]  # checks the Adler-32 too
    assert len(packed.deflated) < len(FILES["b.csv"]) / 10


def test_times_are_written_as_iso_utc_with_microseconds():
    series = pd.Series(pd.to_datetime(["2026-10-05 10:00:00.000001+02:00", None], utc=True, format="ISO8601"))
    assert list(_ts(series)) == ["2026-10-05T08:00:00.000001Z", ""]
    expected = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").fillna("")
    assert list(_ts(series)) == list(expected)
