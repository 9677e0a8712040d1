"""Recomputing the chain. Reads in keyset-paginated chunks so memory stays flat.

Each link is checkable on its own (its hash over its prev_hash and payload, and its prev_hash
against the previous row's hash), so a long chain is split into sequence ranges verified in
parallel worker processes, and the seams between ranges checked afterwards. On PostgreSQL the
rows are read as text already in canonical form (times formatted by the database) and the
canonical JSON is assembled directly; `test_fast_canonical_matches_chain` proves it is
byte-for-byte what apps.audit.chain produces.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from django.db import connection, connections

from .chain import canonical_json, event_payload
from .models import GENESIS_HASH, AuditEvent

_FIELDS = ("seq", "created_at", "actor_id", "actor_type", "actor_label", "action", "object_type", "object_id",
           "object_repr", "request_id", "ip", "details", "prev_hash", "hash")
# Below this many events a single process is faster than starting workers.
PARALLEL_THRESHOLD = 20_000


@dataclass
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""


@dataclass
class _RangeResult:
    ok: bool
    checked: int
    first_seq: int
    first_prev: str
    last_seq: int
    last_hash: str
    broken_seq: int | None = None
    reason: str = ""


_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings


def _canonical_details(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fast_canonical(seq, created_at_text, actor_id, actor_type, actor_label, action, object_type, object_id,
                   object_repr, request_id, ip, details_text) -> bytes:
    """canonical_json(event_payload(...)) built directly from database text (PostgreSQL path)."""
    return (
        '{"action":' + _encode(action)
        + ',"actor_id":' + ("null" if actor_id is None else str(actor_id))
        + ',"actor_label":' + _encode(actor_label)
        + ',"actor_type":' + _encode(actor_type)
        + ',"created_at":"' + created_at_text
        + '","details":' + _canonical_details(details_text)
        + ',"ip":' + _encode(ip)
        + ',"object_id":' + _encode(object_id)
        + ',"object_repr":' + _encode(object_repr)
        + ',"object_type":' + _encode(object_type)
        + ',"request_id":' + _encode(request_id)
        + ',"seq":' + str(seq) + "}"
    ).encode("utf-8")


_PG_SELECT = (
    "SELECT seq, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor_id, actor_type, "
    "actor_label, action, object_type, object_id, object_repr, request_id, ip, details::text, prev_hash, hash "
    "FROM audit_auditevent WHERE seq >= %s AND seq <= %s ORDER BY seq LIMIT %s"
)


def _rows(first: int, last: int, chunk_size: int):
    """Yield rows (seq, canonical bytes, prev_hash, hash) for seq in [first, last]."""
    cursor_seq = first
    while cursor_seq <= last:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_PG_SELECT, [cursor_seq, last, chunk_size])
                rows = cursor.fetchall()
            if not rows:
                return
            for row in rows:
                yield row[0], fast_canonical(*row[:12]), row[12], row[13]
        else:
            rows = list(AuditEvent.objects.filter(seq__gte=cursor_seq, seq__lte=last).order_by("seq")
                        .values_list(*_FIELDS)[:chunk_size])
            if not rows:
                return
            for (seq, created_at, actor_id, actor_type, actor_label, action, object_type, object_id, object_repr,
                 request_id, ip, details, prev, stored) in rows:
                payload = event_payload(
                    seq=seq, created_at=created_at, actor_id=actor_id, actor_type=actor_type,
                    actor_label=actor_label, action=action, object_type=object_type, object_id=object_id,
                    object_repr=object_repr, request_id=request_id, ip=ip, details=details,
                )
                yield seq, canonical_json(payload), prev, stored
        cursor_seq = rows[-1][0] + 1


def _verify_range(first: int, last: int, chunk_size: int, start_prev: str | None) -> _RangeResult:
    expected = first
    prev_hash = start_prev
    first_prev = ""
    checked = 0
    sha256 = hashlib.sha256
    for seq, canonical, stored_prev, stored_hash in _rows(first, last, chunk_size):
        if seq != expected:
            return _RangeResult(False, checked, first, first_prev, expected - 1, prev_hash or "", expected,
                                f"sequence {expected} is missing (next present is {seq})")
        if prev_hash is None:  # a range's first link: its seam is checked by the caller
            first_prev = stored_prev
        elif stored_prev != prev_hash:
            return _RangeResult(False, checked, first, first_prev, seq - 1, prev_hash, seq,
                                f"sequence {seq} does not point at the hash of sequence {seq - 1}")
        else:
            first_prev = first_prev or stored_prev
        digest = sha256(stored_prev.encode("ascii"))
        digest.update(b"\n")
        digest.update(canonical)
        if digest.hexdigest() != stored_hash:
            return _RangeResult(False, checked, first, first_prev, seq - 1, prev_hash or "", seq,
                                f"sequence {seq} was altered")
        prev_hash = stored_hash
        expected += 1
        checked += 1
    if expected <= last:
        return _RangeResult(False, checked, first, first_prev, expected - 1, prev_hash or "", expected,
                            f"sequence {expected} is missing")
    return _RangeResult(True, checked, first, first_prev, last, prev_hash or "")


def _verify_range_in_worker(args) -> _RangeResult:
    connections.close_all()  # never share the parent's socket
    try:
        return _verify_range(*args)
    finally:
        connections.close_all()


def verify_chain(*, chunk_size: int = 5000, start_after: int = 0, start_hash: str = GENESIS_HASH,
                 workers: int | None = None) -> ChainReport:
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or start_after
    total = head - start_after
    if total <= 0:
        extra = AuditEvent.objects.filter(seq__gt=start_after).exists()
        return ChainReport(not extra, 0, start_after, start_hash)
    workers = workers or (os.cpu_count() or 1)
    # Worker processes read committed rows only: inside a transaction (tests), stay in-process.
    parallel = workers > 1 and total >= PARALLEL_THRESHOLD and not connection.in_atomic_block \
        and connection.vendor == "postgresql"
    if not parallel:
        result = _verify_range(start_after + 1, head, chunk_size, start_hash)
        results = [result]
    else:
        import multiprocessing

        step = -(-total // workers)
        ranges = [(a, min(a + step - 1, head), chunk_size, None) for a in range(start_after + 1, head + 1, step)]
        connections.close_all()
        with multiprocessing.get_context("fork").Pool(len(ranges)) as pool:
            results = pool.map(_verify_range_in_worker, ranges)
    checked = 0
    prev_hash = start_hash
    for result in results:
        if result.checked and result.first_prev != prev_hash:
            return ChainReport(False, checked, result.first_seq - 1, prev_hash, result.first_seq,
                               f"sequence {result.first_seq} does not point at the hash of sequence {result.first_seq - 1}")
        if not result.ok:
            return ChainReport(False, checked + result.checked, result.last_seq, result.last_hash, result.broken_seq,
                               result.reason)
        checked += result.checked
        prev_hash = result.last_hash
    return ChainReport(True, checked, head, prev_hash)


def verify_chain_from_checkpoint(*, chunk_size: int = 5000) -> ChainReport:
    """Verify from the latest purge checkpoint (or from genesis when nothing was ever purged)."""
    from .models import ChainCheckpoint

    checkpoint = ChainCheckpoint.objects.order_by("-seq").first()
    if checkpoint is None:
        return verify_chain(chunk_size=chunk_size)
    return verify_chain(chunk_size=chunk_size, start_after=checkpoint.seq, start_hash=checkpoint.hash)
