"""The packs' own ZIP writer: what it writes is a standard ZIP that Python's zipfile (and so the
offline verifier) reads back byte for byte, including past the classic format's limits, and
the same entries always give the same bytes."""

from __future__ import annotations

import io
import zipfile

from apps.audit.packs.zipstream import STORE_BELOW, ZipStreamWriter


def _write(entries, streamed=()):
    out = io.BytesIO()
    zw = ZipStreamWriter(out)
    for name, data in entries:
        zw.write(name, data)
    for name, chunks in streamed:
        with zw.open(name) as entry:
            for chunk in chunks:
                entry.write(chunk)
    zw.close()
    return out.getvalue()


def test_whole_and_streamed_entries_read_back_exactly():
    body = b'{"id": 1, "title": "Rotate keys"}\n' * 200
    raw = _write([("changes/CHG-000001/change.json", body), ("changes/CHG-000001/approvals.json", b"[]\n"),
                  ("listings/ünïcode.txt", "é".encode() * 100)],
                 streamed=[("listings/deployments.csv", [b"a,b\n" * 5000, b"c,d\n" * 5000])])
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["changes/CHG-000001/change.json", "changes/CHG-000001/approvals.json",
                                 "listings/ünïcode.txt", "listings/deployments.csv"]
        assert zf.read("changes/CHG-000001/change.json") == body
        assert zf.read("changes/CHG-000001/approvals.json") == b"[]\n"
        assert zf.read("listings/deployments.csv") == b"a,b\n" * 5000 + b"c,d\n" * 5000
        infos = {i.filename: i for i in zf.infolist()}
        assert infos["changes/CHG-000001/approvals.json"].compress_type == zipfile.ZIP_STORED  # < STORE_BELOW
        assert infos["changes/CHG-000001/change.json"].compress_type == zipfile.ZIP_DEFLATED
        assert infos["changes/CHG-000001/change.json"].compress_size < len(body)
        assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 & 0o777 for i in infos.values()} == {0o644}
    assert len(b"[]\n") < STORE_BELOW


def test_more_entries_than_the_classic_format_counts_use_zip64_end_records():
    entries = [(f"changes/CHG-{n:06d}/change.json", f'{{"n": {n}}}\n'.encode()) for n in range(70_000)]
    raw = _write(entries)
    assert b"PK\x06\x06" in raw[-200:]  # the ZIP64 end of central directory record
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        names = zf.namelist()
        assert len(names) == 70_000
        assert zf.read("changes/CHG-069999/change.json") == b'{"n": 69999}\n'


def test_the_same_entries_give_the_same_bytes():
    entries = [("a.json", b'{"x": 1}\n' * 50), ("b.json", b"[]\n")]
    streamed = [("c.csv", [b"1,2\n" * 100])]
    assert _write(entries, streamed) == _write(entries, streamed)


def test_entries_of_every_size_inflate_back_whatever_window_they_were_deflated_with():
    import random

    rng = random.Random(8)
    sizes = [64, 65, 300, 511, 512, 513, 4095, 4096, 20_000, 32_767, 32_768, 100_000]
    entries = [(f"f{n}.json", bytes(rng.choice(b'{}"abc:,0123 ') for _ in range(n))) for n in sizes]
    with zipfile.ZipFile(io.BytesIO(_write(entries))) as zf:
        assert zf.testzip() is None
        for name, data in entries:
            assert zf.read(name) == data


def test_times_are_written_exactly_as_the_audit_chain_formats_them():
    import datetime as dt
    import zoneinfo

    from apps.audit.chain import format_time
    from apps.audit.packs.writer import dumps_compact

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    for value in (dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, 12, 3, 4, 5, tzinfo=dt.UTC),
                  dt.datetime(2026, 7, 1, 2, 0, tzinfo=paris), dt.datetime(999, 1, 2, tzinfo=dt.UTC)):
        assert dumps_compact({"at": value}) == b'{"at":"' + format_time(value).encode() + b'"}\n'
