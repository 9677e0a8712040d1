"""Archives: closed records older than the active horizon, written once per record class and
month as gzip-compressed JSON Lines (with their history) into the archive storage, with the
file's SHA-256; an index (ArchivedRecord) keeps them searchable and exportable.

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

from releaseportal.errors import Conflict

from .actor import resolve_actor
from .models import Archive, ArchivedRecord, RecordClass
from .packs.sources import row
from .retention import SPECS, Candidate, HeldRecord, _refused, refusal_reasons
from .services import audit_event_record
from .triggers import unlocked

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
    model = spec.model_class()
    if model is None:
        return []
    limit = _month_start(horizon(now))  # only months that ended before the horizon's month
    closed = model._default_manager.filter(**spec.closed).filter(**{f"{spec.closure_field}__lt": _bounds(limit)[0]})
    months = {value.date() if isinstance(value, dt.datetime) else value for value in
              closed.annotate(m=TruncMonth(spec.closure_field, tzinfo=dt.UTC)).order_by().values_list("m", flat=True)
              .distinct()}
    done = set(Archive.objects.filter(record_class=record_class).values_list("month", flat=True))
    return sorted(months - done)


def _records(record_class: str, month: dt.date) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    spec = SPECS[record_class]
    model = spec.model_class()
    start, end = _bounds(month)
    qs = (model._default_manager.filter(**spec.closed)
          .filter(**{f"{spec.closure_field}__gte": start, f"{spec.closure_field}__lt": end}).order_by("pk"))
    extra = [f"{spec.service_path}__slug", f"{spec.service_path}__compliance_scopes",
             f"{spec.service_path}__owner_team_id"] if spec.service_path else []
    history = getattr(model, "history", None)
    chunk: list[dict[str, Any]] = []

    def flush():
        by_id: dict[Any, list[dict[str, Any]]] = {}
        if history is not None:
            for h in history.filter(id__in=[c["id"] for c in chunk]).order_by("history_date", "history_id").values():
                by_id.setdefault(h["id"], []).append(row(h))
        for item in chunk:
            yield item, by_id.get(item["id"], [])

    for values in qs.values(*[f.attname for f in model._meta.concrete_fields], *extra).iterator(chunk_size=500):
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
    service = spec.service_path
    index: list[ArchivedRecord] = []
    count = 0
    with tempfile.TemporaryFile() as tmp:
        # mtime=0: the same records always compress to the same bytes.
        with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
            for values, history in _records(record_class, month):
                data = row(values)
                line = {"record_class": record_class, "id": data["id"], "reference": str(data[spec.reference]),
                        "record": data, "history": history}
                gz.write((json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
                         .encode("utf-8"))
                index.append(ArchivedRecord(
                    record_class=record_class, object_id=str(data["id"]), reference=str(data[spec.reference]),
                    title=str(data.get(spec.title) or "")[:300],
                    service_slug=(data.get(f"{service}__slug") or "") if service else "",
                    occurred_at=values[spec.closure_field], data=data))
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


def archive_purge(*, archive: Archive, actor, reason: str, now: dt.datetime | None = None) -> int:
    """Purge a whole archive once every record in it is past retention and free of holds: the
    live rows and their history, the index and the file go; a tombstone names them."""
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    spec = SPECS[archive.record_class]
    service = spec.service_path
    candidates = []
    for item in archive.records.order_by("pk").iterator(chunk_size=2000):
        data = item.data
        candidates.append(Candidate(
            pk=data["id"], reference=item.reference, anchor=item.occurred_at,
            created=_parse(data.get(spec.creation_field)),
            held=HeldRecord(archive.record_class, item.object_id, data.get(f"{service}_id") if service else None,
                            data.get(f"{service}__owner_team_id") if service else None, item.occurred_at),
            scopes=list(data.get(f"{service}__compliance_scopes") or []) if service else []))
    reasons = refusal_reasons(archive.record_class, candidates, now=now)
    if reasons:
        _refused(archive.record_class, [c.pk for c in candidates], reasons, resolved, reason)
    model = spec.model_class()
    pks = [c.pk for c in candidates]
    with unlocked():
        model._default_manager.filter(pk__in=pks).delete()
        history = getattr(model, "history", None)
        if history is not None:
            history.model.objects.filter(id__in=pks).delete()
        archive.records.all().delete()
        Archive.objects.filter(pk=archive.pk).update(purged_at=now)
        audit_event_record(action="retention.purged", target=archive, actor=resolved,
                           details={"record_class": archive.record_class, "month": archive.month.isoformat(),
                                    "count": len(pks), "references": [c.reference for c in candidates][:1000],
                                    "archive": archive.path, "archive_sha256": archive.sha256, "reason": reason})
        path = archive.path
        transaction.on_commit(lambda: storage().delete(path))
    return len(pks)


def _parse(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


RECORD_CLASSES_ARCHIVED = [c for c in RecordClass.values if c in SPECS]
