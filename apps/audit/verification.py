"""Recomputing the chain.

Each link is checkable on its own (its hash over its prev_hash and payload, and its prev_hash
against the previous row's hash), so a long chain is split into sequence ranges verified side
by side, and the seams between ranges checked afterwards.

On PostgreSQL the database re-hashes every link itself (`sha256()`, built in since 11) and
returns only the rows that need a closer look: a range's first and last link, a gap, a broken
`prev_hash`, or a hash that does not match. The SQL builds the canonical JSON of
apps.audit.chain for text, numbers and times, and takes `details` verbatim from its `json`
column, which holds the very text that was hashed (apps.audit.fields). The SQL path can only
ever clear a link whose recomputed SHA-256 equals the stored one, over a faithful JSON text of
the row; every link it does not clear is recomputed in Python with apps.audit.chain, which has
the final word (so a row written before details were stored canonically is slower to verify,
never wrongly reported). Ranges run in threads, one database connection each: the work is in
the database, so the GIL is not in the way. Elsewhere (SQLite) rows are read in keyset-paginated
chunks and hashed in Python; memory stays flat either way.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .chain import canonical_json, event_payload, link_hash
from .models import GENESIS_HASH, AuditEvent

_FIELDS = ("seq", "created_at", "actor_id", "actor_type", "actor_label", "action", "object_type", "object_id",
           "object_repr", "request_id", "ip", "details", "prev_hash", "hash")
# Below this many events one range is faster than starting workers.
PARALLEL_THRESHOLD = 20_000
# Links re-hashed by the database per round trip (PostgreSQL); only flagged rows come back.
PG_CHUNK = 200_000


@dataclass
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""
    rechecked: int = 0  # links the database could not clear, recomputed by apps.audit.chain


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
    rechecked: int = 0


def _json_text(column: str) -> str:
    return f"to_json({column})::text"


# canonical_json(event_payload(...)): keys in sorted order, no spaces, times as
# 2026-01-31T12:00:00.000000Z; to_json() escapes strings as json.dumps(ensure_ascii=False) does.
_PG_CANONICAL = (
    "'{\"action\":' || " + _json_text("action")
    + " || ',\"actor_id\":' || coalesce(actor_id::text, 'null')"
    + " || ',\"actor_label\":' || " + _json_text("actor_label")
    + " || ',\"actor_type\":' || " + _json_text("actor_type")
    + " || ',\"created_at\":\"' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    + " || '\",\"details\":' || details::text"
    + " || ',\"ip\":' || " + _json_text("ip")
    + " || ',\"object_id\":' || " + _json_text("object_id")
    + " || ',\"object_repr\":' || " + _json_text("object_repr")
    + " || ',\"object_type\":' || " + _json_text("object_type")
    + " || ',\"request_id\":' || " + _json_text("request_id")
    + " || ',\"seq\":' || seq::text || '}'"
)

# Rows of [lo, hi] that need a closer look. The window starts at the last row present before lo
# (within the range), so `prev_seq` is always the real predecessor.
# Built from constants only; every value is a bound parameter.
_PG_FLAGGED = f"""
WITH links AS (
    SELECT seq, prev_hash, hash,
           lag(seq) OVER (ORDER BY seq) AS prev_seq,
           lag(hash) OVER (ORDER BY seq) AS prev_stored,
           encode(sha256(convert_to(prev_hash || E'\\n' || {_PG_CANONICAL}, 'UTF8')), 'hex') AS computed
    FROM audit_auditevent
    WHERE seq >= coalesce((SELECT max(seq) FROM audit_auditevent WHERE seq < %(lo)s AND seq >= %(first)s), %(lo)s)
      AND seq <= %(hi)s
)
SELECT seq, prev_seq, prev_hash, prev_stored, hash, computed IS NOT DISTINCT FROM hash
FROM links
WHERE seq >= %(lo)s
  AND (seq = %(first)s OR seq = %(last)s OR computed IS DISTINCT FROM hash
       OR prev_seq IS DISTINCT FROM seq - 1 OR prev_stored IS DISTINCT FROM prev_hash)
ORDER BY seq
"""  # noqa: S608


def _python_hash(row: tuple) -> str:
    (seq, created_at, actor_id, actor_type, actor_label, action, object_type, object_id, object_repr,
     request_id, ip, details, prev, _stored) = row
    payload = event_payload(
        seq=seq, created_at=created_at, actor_id=actor_id, actor_type=actor_type, actor_label=actor_label,
        action=action, object_type=object_type, object_id=object_id, object_repr=object_repr,
        request_id=request_id, ip=ip, details=details,
    )
    return link_hash(prev, payload)


def _python_cleared(seqs: set[int]) -> set[int]:
    """Of these links, the ones whose hash apps.audit.chain confirms."""
    cleared: set[int] = set()
    rows = (AuditEvent.objects.filter(seq__gte=min(seqs), seq__lte=max(seqs)).order_by("seq")
            .values_list(*_FIELDS).iterator(chunk_size=5000))
    for row in rows:
        if row[0] in seqs and _python_hash(row) == row[13]:
            cleared.add(row[0])
    return cleared


def _verify_range_pg(first: int, last: int, chunk_size: int, start_prev: str | None) -> _RangeResult:
    first_prev = ""
    last_hash = ""
    seen_first = seen_last = False
    rechecked = 0

    def broken(seq: int, prev_hash: str, reason: str) -> _RangeResult:
        return _RangeResult(False, seq - first, first, first_prev, seq - 1, prev_hash, seq, reason, rechecked)

    for lo in range(first, last + 1, chunk_size):
        hi = min(lo + chunk_size - 1, last)
        with connection.cursor() as cursor:
            cursor.execute(_PG_FLAGGED, {"lo": lo, "hi": hi, "first": first, "last": last})
            flagged = cursor.fetchall()
        suspects = {row[0] for row in flagged if not row[5]}
        cleared = _python_cleared(suspects) if suspects else set()
        rechecked += len(suspects)
        for seq, prev_seq, prev_hash, prev_stored, stored_hash, _hash_ok in flagged:
            if seq == first:
                seen_first = True
                first_prev = prev_hash
                if start_prev is not None and prev_hash != start_prev:
                    return broken(seq, start_prev, f"sequence {seq} does not point at the hash of sequence {seq - 1}")
            elif not seen_first or prev_seq != seq - 1:
                expected = first if not seen_first or prev_seq is None else prev_seq + 1
                return broken(expected, prev_stored or "", f"sequence {expected} is missing (next present is {seq})")
            elif prev_stored != prev_hash:
                return broken(seq, prev_stored, f"sequence {seq} does not point at the hash of sequence {seq - 1}")
            if seq in suspects and seq not in cleared:
                return broken(seq, prev_stored or start_prev or "", f"sequence {seq} was altered")
            if seq == last:
                seen_last = True
                last_hash = stored_hash
    if not seen_last:
        present = AuditEvent.objects.filter(seq__gte=first, seq__lte=last).order_by("-seq").values_list(
            "seq", "hash").first()
        expected = present[0] + 1 if present else first
        return _RangeResult(False, expected - first, first, first_prev, expected - 1, present[1] if present else "",
                            expected, f"sequence {expected} is missing", rechecked)
    return _RangeResult(True, last - first + 1, first, first_prev, last, last_hash, rechecked=rechecked)


def _rows(first: int, last: int, chunk_size: int):
    """Yield rows (seq, canonical bytes, prev_hash, hash) for seq in [first, last]."""
    cursor_seq = first
    while cursor_seq <= last:
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


def _verify_range_python(first: int, last: int, chunk_size: int, start_prev: str | None) -> _RangeResult:
    import hashlib

    expected = first
    prev_hash = start_prev
    first_prev = ""
    checked = 0
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
        digest = hashlib.sha256(stored_prev.encode("ascii"))
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


def _verify_range(first: int, last: int, chunk_size: int, start_prev: str | None) -> _RangeResult:
    if connection.vendor == "postgresql":
        return _verify_range_pg(first, last, max(chunk_size, 1), start_prev)
    return _verify_range_python(first, last, chunk_size, start_prev)


def _verify_range_in_thread(args) -> _RangeResult:
    try:
        return _verify_range(*args)
    finally:
        connection.close()  # this thread's own connection


def verify_chain(*, chunk_size: int | None = None, start_after: int = 0, start_hash: str = GENESIS_HASH,
                 workers: int | None = None) -> ChainReport:
    """Verify every link after `start_after` (whose hash is `start_hash`) up to the head."""
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or start_after
    total = head - start_after
    if total <= 0:
        extra = AuditEvent.objects.filter(seq__gt=start_after).exists()
        return ChainReport(not extra, 0, start_after, start_hash)
    if chunk_size is None:
        chunk_size = PG_CHUNK if connection.vendor == "postgresql" else 5000
    workers = workers or (os.cpu_count() or 1)
    # Other connections see committed rows only: inside a transaction (tests), stay on this one.
    parallel = workers > 1 and total >= PARALLEL_THRESHOLD and not connection.in_atomic_block \
        and connection.vendor == "postgresql"
    if not parallel:
        results = [_verify_range(start_after + 1, head, chunk_size, start_hash)]
    else:
        step = -(-total // workers)
        ranges = [(a, min(a + step - 1, head), min(chunk_size, step), start_hash if a == start_after + 1 else None)
                  for a in range(start_after + 1, head + 1, step)]
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            results = list(pool.map(_verify_range_in_thread, ranges))
    checked = 0
    prev_hash = start_hash
    rechecked = sum(result.rechecked for result in results)
    for result in results:
        if result.checked and result.first_prev != prev_hash:
            return ChainReport(False, checked, result.first_seq - 1, prev_hash, result.first_seq,
                               f"sequence {result.first_seq} does not point at the hash of sequence {result.first_seq - 1}",
                               rechecked)
        if not result.ok:
            return ChainReport(False, checked + result.checked, result.last_seq, result.last_hash, result.broken_seq,
                               result.reason, rechecked)
        checked += result.checked
        prev_hash = result.last_hash
    return ChainReport(True, checked, head, prev_hash, rechecked=rechecked)


@dataclass
class TrailReport:
    """The whole verdict of `audit_verify`: the chain's links, where it starts (genesis or a
    purge checkpoint a signed purge anchor vouches for) and the newest signed head anchor."""

    chain: ChainReport
    start_seq: int = 0
    anchor_seq: int | None = None
    anchor_at: str = ""
    anchor_key_id: str = ""  # the key that signed the anchor the head was compared with
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def _start(problems: list[str]) -> tuple[int, str]:
    """Where verification starts: genesis while the first event is present; after a purge, the
    checkpoint the purge left, but only when a signed purge anchor vouches for it. A
    checkpoint is never taken on its word: one standing for events still present, or with no
    anchor, is reported."""
    from .anchors import purge_anchor_for
    from .models import ChainCheckpoint

    first = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    if first is None:
        newest = ChainCheckpoint.objects.order_by("-seq").first()
        if newest is not None:  # a purge always keeps the head
            problems.append(f"every event was deleted, though the chain reached past checkpoint #{newest.seq}")
        return 0, GENESIS_HASH
    for checkpoint in ChainCheckpoint.objects.filter(seq__gte=first).order_by("seq"):
        problems.append(f"checkpoint #{checkpoint.seq} stands for purged events that are still present: "
                        f"no purge wrote it")
    if first == 1:
        return 0, GENESIS_HASH
    checkpoint = ChainCheckpoint.objects.filter(seq=first - 1).first()
    if checkpoint is None:
        problems.append(f"sequences 1 to {first - 1} are missing and no purge checkpoint stands for them")
        return first - 1, AuditEvent.objects.filter(seq=first).values_list("prev_hash", flat=True).get()
    if purge_anchor_for(checkpoint.seq, checkpoint.hash) is None:
        problems.append(f"checkpoint #{checkpoint.seq} has no signed purge anchor in the archive storage: "
                        f"sequences 1 to {checkpoint.seq} went without a sanctioned purge")
    return checkpoint.seq, checkpoint.hash


def _compare_with_anchor(report: TrailReport, now: datetime) -> None:
    from .anchors import HEAD, newest_valid_anchor

    anchor, problems = newest_valid_anchor(HEAD)
    report.problems.extend(problems)
    # Events older than the anchoring interval allows must be under an anchor: otherwise the
    # newest anchors were removed (with the events they covered) or anchoring stopped.
    covered = max(anchor.seq if anchor is not None else 0, report.start_seq)
    oldest_bare = (AuditEvent.objects.filter(seq__gt=covered).order_by("seq").values_list("seq", "created_at")
                   .first())
    limit = now - timedelta(minutes=settings.AUDIT_ANCHOR_MAX_AGE_MINUTES)
    if oldest_bare is not None and oldest_bare[1] < limit:
        report.problems.append(
            f"not anchored: sequence {oldest_bare[0]} (written {oldest_bare[1]:%Y-%m-%d %H:%M} UTC) and later are "
            f"under no anchor older than {settings.AUDIT_ANCHOR_MAX_AGE_MINUTES} minutes allows: the newest anchors "
            f"are missing from the archive storage, or the anchoring schedule is not running")
    if anchor is None:
        return
    report.anchor_seq, report.anchor_at, report.anchor_key_id = anchor.seq, anchor.anchored_at, anchor.key_id
    head = report.chain.head_seq
    if anchor.seq > head:
        report.problems.append(
            f"truncated: the head anchored at {anchor.anchored_at} is sequence {anchor.seq}, the database's head is "
            f"{head or 'empty'}: sequences {head + 1} to {anchor.seq} were deleted")
    elif anchor.seq > report.start_seq:
        stored = AuditEvent.objects.filter(seq=anchor.seq).values_list("hash", flat=True).first()
        if stored != anchor.hash:
            report.problems.append(f"sequence {anchor.seq} is not the event anchored at {anchor.anchored_at}: "
                                   f"the chain was rewritten")


def audit_trail_verify(*, chunk_size: int | None = None, now: datetime | None = None) -> TrailReport:
    """Verify the chain from its verified start to the head, and the head against the newest
    signed anchor (apps.audit.anchors)."""
    problems: list[str] = []
    start_seq, start_hash = _start(problems)
    report = TrailReport(chain=verify_chain(chunk_size=chunk_size, start_after=start_seq, start_hash=start_hash),
                         start_seq=start_seq, problems=problems)
    _compare_with_anchor(report, now or timezone.now())
    return report
