"""Archives: closed records older than the active horizon, written once per record class and
month as gzip-compressed JSON Lines into the archive storage, with the file's SHA-256; an index
(ArchivedRecord) keeps them searchable and exportable. Every record class with a retention
policy is archived (apps/audit/record_classes.py). One line per record:

    {"record_class", "id", "reference", "record": {...}, "history": [...],
     "related": {"approvals": [{"record": {...}, "history": [...]}, ...], ...},
     "scope": {"hold_service_id", "hold_team_id", "hold_scopes", "hold_service_slug"}}

Archiving copies: the live rows stay where other apps' foreign keys expect them until the
retention purge removes them (records, history, archive file and index together, leaving a
tombstone). An archive, once written, is never rewritten: a month already archived is skipped.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models.functions import TruncMonth
from django.utils import timezone

from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .actor import resolve_actor
from .models import Archive, ArchivedRecord
from .packs.sources import row
from .record_classes import SPECS, history_rows, related_rows
from .retention import _candidate, _refused, purge_candidates, refusal_reasons
from .services import audit_event_record

INDEX_BATCH = 1000


def storage():
    return storages["archive"]


def horizon(now: dt.datetime | None = None) -> dt.datetime:
    days = getattr(settings, "AUDIT_ACTIVE_HORIZON_DAYS", 730)
    return (now or timezone.now()) - dt.timedelta(days=days)


def _month_start(value: dt.datetime) -> dt.date:
    return dt.date(value.year, value.month, 1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(month, dt.time.min, tzinfo=dt.UTC)
    return start, dt.datetime.combine(_next_month(month), dt.time.min, tzinfo=dt.UTC)


def months_due(record_class: str, *, now: dt.datetime | None = None) -> list[dt.date]:
    """Whole months before the horizon holding closed records not yet archived."""
    spec = SPECS[record_class]
    if spec.model_class() is None:
        return []
    limit = _month_start(horizon(now))  # only months that ended before the horizon's month
    closed = spec.queryset().filter(**{f"{spec.closure_field}__lt": _bounds(limit)[0]})
    months = {value.date() if isinstance(value, dt.datetime) else value for value in
              closed.annotate(m=TruncMonth(spec.closure_field, tzinfo=dt.UTC)).order_by().values_list("m", flat=True)
              .distinct()}
    done = set(Archive.objects.filter(record_class=record_class).values_list("month", flat=True))
    return sorted(months - done)


def _records(record_class: str, month: dt.date) -> Iterator[dict[str, Any]]:
    """Archive lines for one class and month: each record with its history and the rows that
    belong to it (with theirs), read 500 records at a time."""
    spec = SPECS[record_class]
    model = spec.model_class()
    start, end = _bounds(month)
    qs = (spec.queryset().filter(**{f"{spec.closure_field}__gte": start, f"{spec.closure_field}__lt": end})
          .order_by("pk").values(*spec.record_fields(), **spec.hold_fields()))
    chunk: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        ids = [item["id"] for item in chunk]
        history = history_rows(model, ids)
        related = related_rows(spec, ids)
        related_history = {rel.name: history_rows(rel.model_class(), [r["id"] for rows in related[rel.name].values()
                                                                       for r in rows])
                           for rel in spec.related}
        for item in chunk:
            belongs = {}
            for rel in spec.related:
                rows = related[rel.name].get(item["id"], [])
                belongs[rel.name] = [{"record": row(r), "history": [row(h) for h in
                                                                    related_history[rel.name].get(r["id"], [])]}
                                     for r in rows]
            hold = {key: item.pop(key) for key in list(item) if key.startswith("hold_")}
            yield {"values": item, "hold": hold, "history": [row(h) for h in history.get(item["id"], [])],
                   "related": belongs}

    for values in qs.iterator(chunk_size=500):
        chunk.append(values)
        if len(chunk) >= 500:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()


def archive_month(*, record_class: str, month: dt.date, actor) -> Archive | None:
    """Write one immutable archive and its index, or return None when there is nothing to write
    (or it was written already)."""
    resolved = resolve_actor(actor)
    if Archive.objects.filter(record_class=record_class, month=month).exists():
        return None
    spec = SPECS[record_class]
    index: list[ArchivedRecord] = []
    count = 0
    with tempfile.TemporaryFile() as tmp:
        # mtime=0: the same records always compress to the same bytes.
        with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
            for item in _records(record_class, month):
                data = row(item["values"])
                hold = row(item["hold"])
                reference = str(data[spec.reference])
                line = {"record_class": record_class, "id": data["id"], "reference": reference, "record": data,
                        "history": item["history"], "related": item["related"], "scope": hold}
                gz.write((json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
                         .encode("utf-8"))
                index.append(ArchivedRecord(
                    record_class=record_class, object_id=str(data["id"]), reference=reference,
                    title=str(data.get(spec.title) or "")[:300], service_slug=hold.get("hold_service_slug") or "",
                    occurred_at=item["values"][spec.closure_field], data={**data, **hold}))
                count += 1
        if not count:
            return None
        size = tmp.tell()
        tmp.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: tmp.read(1024 * 1024), b""):
            digest.update(block)
        tmp.seek(0)
        name = f"archives/{record_class}/{month:%Y-%m}.jsonl.gz"
        stored = storage().save(name, File(tmp, name=name))
    with transaction.atomic():
        archive = Archive.objects.create(record_class=record_class, month=month, path=stored,
                                         sha256=digest.hexdigest(), size=size, record_count=count,
                                         created_at=timezone.now())
        for item in index:
            item.archive = archive
        ArchivedRecord.objects.bulk_create(index, batch_size=INDEX_BATCH, ignore_conflicts=True)
        audit_event_record(action="archive.written", target=archive, actor=resolved,
                           details={"record_class": record_class, "month": f"{month:%Y-%m}", "path": stored,
                                    "sha256": archive.sha256, "records": count, "size": size})
    return archive


def archive_closed_records(*, actor, now: dt.datetime | None = None) -> list[Archive]:
    """The monthly job: every class, every due month."""
    written = []
    for record_class in SPECS:
        for month in months_due(record_class, now=now):
            archive = archive_month(record_class=record_class, month=month, actor=actor)
            if archive is not None:
                written.append(archive)
    return written


def quarter_months(year: int, quarter: int) -> list[dt.date]:
    if quarter not in (1, 2, 3, 4):
        raise InvalidInput("A quarter is 1 to 4.", fields={"quarter": ["1 to 4."]})
    return [dt.date(year, 3 * (quarter - 1) + n, 1) for n in (1, 2, 3)]


def archive_quarter(*, year: int, quarter: int, actor) -> list[Archive]:
    """Archive every record class for the three months of a quarter now, whatever the horizon
    (an auditor closing a quarter's file early). Months already archived are skipped, so the
    monthly job and this never write the same month twice."""
    written = []
    for record_class in SPECS:
        for month in quarter_months(year, quarter):
            archive = archive_month(record_class=record_class, month=month, actor=actor)
            if archive is not None:
                written.append(archive)
    return written


def archive_verify(archive: Archive) -> bool:
    digest = hashlib.sha256()
    with storage().open(archive.path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest() == archive.sha256


def archived_record_export(record: ArchivedRecord) -> dict[str, Any]:
    """The record's full line (with history) from its archive, after checking the file's hash."""
    archive = record.archive
    if archive.purged_at is not None:
        raise Conflict("This archive was purged.", code="archive_purged")
    if not archive_verify(archive):
        raise Conflict(f"Archive {archive.path} does not match its SHA-256: it was altered.", code="archive_altered")
    with storage().open(archive.path, "rb") as handle, gzip.GzipFile(fileobj=handle) as gz:
        for raw in gz:
            line = json.loads(raw)
            if str(line["id"]) == record.object_id:
                return line
    raise Conflict("The record is not in its archive.", code="archive_incomplete")


def archive_file_open(*, archive: Archive, actor):
    """The archive file for download: refused when purged or altered (its SHA-256 checked
    first), audited before a byte leaves."""
    from .permissions import can_use_evidence_packs

    resolved = resolve_actor(actor)
    if not can_use_evidence_packs(resolved.user):
        raise NotAllowed("Archive files are for auditors.", code="not_an_auditor")
    if archive.purged_at is not None:
        raise Conflict("This archive was purged.", code="archive_purged")
    if not archive_verify(archive):
        raise Conflict(f"Archive {archive.path} does not match its SHA-256: it was altered.", code="archive_altered")
    handle = storage().open(archive.path, "rb")
    audit_event_record(action="archive.downloaded", target=archive, actor=resolved,
                       details={"sha256": archive.sha256, "path": archive.path, "records": archive.record_count})
    return handle


def archive_purge(*, archive: Archive, actor, reason: str, now: dt.datetime | None = None) -> int:
    """Purge a whole archive once every record in it is past retention and free of holds: the
    live rows with what belongs to them and their history, the index and the file go; a
    tombstone names them. Refused (and audited) otherwise, or for a class never purged."""
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    spec = SPECS[archive.record_class]
    ids = list(archive.records.order_by("pk").values_list("object_id", flat=True)[:1000])
    if archive.purged_at is not None:
        raise Conflict("This archive was purged already.", code="archive_purged")
    if spec.never_purged:
        _refused(archive.record_class, ids, [spec.never_purged], resolved, reason)
    candidates = [_candidate(archive.record_class, spec, item.data)
                  for item in archive.records.order_by("pk").iterator(chunk_size=2000)]
    reasons = refusal_reasons(archive.record_class, candidates, now=now)
    if reasons:
        _refused(archive.record_class, [c.pk for c in candidates], reasons, resolved, reason)
    return purge_candidates(record_class=archive.record_class, candidates=candidates, actor=resolved, reason=reason,
                            now=now, requested_ids=[c.pk for c in candidates], archive=archive)
