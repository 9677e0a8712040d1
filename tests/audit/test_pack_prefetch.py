"""Packs read their next chunk in a background thread (PostgreSQL, outside a transaction) while
the current one is written: the pack is the same file for file, and a failure while reading
reaches the writer."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest

from apps.audit.packs import builder as builder_module
from apps.audit.packs.prefetch import can_prefetch, prefetched

from .conftest import CONTROL_JULY
from .packs import manifest


def _build(params) -> dict:
    out = io.BytesIO()
    builder_module.PackBuilder(params, generation={"test": True}).build(out)
    with zipfile.ZipFile(out) as zf:
        return manifest(zf)


def test_inside_a_transaction_the_chunks_are_read_in_turn(db):
    seen = []

    def produce():
        for n in range(3):
            seen.append(threading.current_thread().name)
            yield n

    assert not can_prefetch()
    assert list(prefetched(produce)) == [0, 1, 2]
    assert set(seen) == {threading.current_thread().name}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_prefetched_pack_lists_the_same_files_as_one_read_in_turn(quarter_data, monkeypatch):
    from apps.audit.packs import prefetch
    from apps.audit.packs.scope import normalise_parameters

    params = normalise_parameters("control_period", CONTROL_JULY)
    monkeypatch.setattr(builder_module, "CHUNK", 1)  # one change per chunk: several pass the thread
    threads = []
    original = prefetch.threading.Thread

    def spy(*args, **kwargs):
        threads.append(kwargs.get("name"))
        return original(*args, **kwargs)

    monkeypatch.setattr(prefetch.threading, "Thread", spy)
    assert can_prefetch()
    prefetched_manifest = _build(params)
    assert threads == ["evidence-pack-prefetch"] * 2  # the reconciliation, then the change folders
    monkeypatch.setattr(prefetch, "can_prefetch", lambda: False)
    serial_manifest = _build(params)
    assert prefetched_manifest["files"] == serial_manifest["files"]
    assert prefetched_manifest["counts"] == serial_manifest["counts"]
    assert prefetched_manifest["counts"]["changes"] >= 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failure_while_reading_ahead_reaches_the_writer():
    def produce():
        yield 1
        raise RuntimeError("the database went away")

    got = []
    with pytest.raises(RuntimeError, match="the database went away"):
        for item in prefetched(produce):
            got.append(item)
    assert got == [1]
