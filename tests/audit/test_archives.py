"""Monthly archives: closed records past the horizon go into one gzip JSON Lines file per class
and month with its SHA-256; they stay searchable and exportable; a purge after retention
removes them and leaves a tombstone."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from django.core.files.storage import storages

from apps.audit.archives import archive_closed_records, archive_purge, months_due
from apps.audit.models import Archive, ArchivedRecord, AuditEvent
from releaseportal.errors import Conflict

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2029, 3, 15, tzinfo=dt.UTC)  # horizon (730 days) falls in March 2027


def closed(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


@pytest.fixture
def closed_changes(make_change):
    return [
        make_change(title="Old one", state="closed", closed_at=closed(dt.date(2026, 1, 10))),
        make_change(title="Old two", state="closed", closed_at=closed(dt.date(2026, 1, 20))),
        make_change(title="February", state="closed", closed_at=closed(dt.date(2026, 2, 3))),
        make_change(title="Recent", state="closed", closed_at=closed(dt.date(2028, 12, 1))),
        make_change(title="Still open", state="implementing"),
    ]


def test_the_monthly_job_archives_closed_records_past_the_horizon_per_class_and_month(
        closed_changes, service_account):
    from apps.audit.actor import Actor

    written = archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    change_archives = {a.month: a for a in written if a.record_class == "change_request"}
    assert set(change_archives) == {dt.date(2026, 1, 1), dt.date(2026, 2, 1)}
    january = change_archives[dt.date(2026, 1, 1)]
    assert january.record_count == 2 and january.path == "archives/change_request/2026-01.jsonl.gz"
    raw = storages["archive"].open(january.path, "rb").read()
    assert hashlib.sha256(raw).hexdigest() == january.sha256 and january.size == len(raw)
    lines = [json.loads(line) for line in gzip.decompress(raw).splitlines()]
    assert [line["reference"] for line in lines] == [closed_changes[0].number, closed_changes[1].number]
    assert lines[0]["record"]["title"] == "Old one" and lines[0]["history"][0]["history_type"] == "+"
    assert AuditEvent.objects.filter(action="archive.written", object_id=str(january.pk)).exists()
    # Idempotent: a second run writes nothing and never rewrites an archive.
    assert archive_closed_records(actor=Actor.for_task("test"), now=NOW) == []
    assert months_due("change_request", now=NOW) == []


def test_archived_records_are_found_by_the_workspace_search_and_exported(client, auditor, closed_changes):
    from apps.audit.actor import Actor

    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    record = ArchivedRecord.objects.get(reference=closed_changes[0].number)
    client.force_login(auditor)
    html = client.get("/audit/", {"q": "Old one"}).content.decode()
    section = html.split('id="res-archived"')[1]
    assert closed_changes[0].number in section and "archives/change_request/2026-01.jsonl.gz" in section
    response = client.get(f"/audit/archived/{record.pk}/export/")
    assert response.status_code == 200
    assert response.json()["record"]["title"] == "Old one"
    assert AuditEvent.objects.filter(action="archive.record_exported").exists()


def test_an_altered_archive_is_refused_on_export(client, auditor, closed_changes):
    from apps.audit.actor import Actor

    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    record = ArchivedRecord.objects.get(reference=closed_changes[0].number)
    path = Path(storages["archive"].path(record.archive.path))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    client.force_login(auditor)
    response = client.get(f"/audit/archived/{record.pk}/export/", follow=True)
    assert "does not match its SHA-256" in response.content.decode()


def test_outsiders_cannot_export_archived_records(client, outsider, requester, closed_changes):
    from apps.audit.actor import Actor

    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    record = ArchivedRecord.objects.first()
    for user in (outsider, requester):
        client.force_login(user)
        assert client.get(f"/audit/archived/{record.pk}/export/").status_code in (403, 404)


def test_an_archive_is_purged_only_after_retention_and_leaves_a_tombstone(closed_changes, auditor,
                                                                          django_capture_on_commit_callbacks):
    from apps.audit.actor import Actor

    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    january = Archive.objects.get(record_class="change_request", month=dt.date(2026, 1, 1))
    with pytest.raises(Conflict, match="inside retention until 2033-01-10"):
        archive_purge(archive=january, actor=Actor.for_task("test"), reason="too early", now=NOW)
    model = type(closed_changes[0])
    later = dt.datetime(2033, 2, 1, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        archive_purge(archive=january, actor=Actor.for_task("test"), reason="retention ended", now=later)
    january.refresh_from_db()
    assert january.purged_at is not None and not january.records.exists()
    assert not model.objects.filter(pk__in=[closed_changes[0].pk, closed_changes[1].pk]).exists()
    assert not storages["archive"].exists(january.path)
    tombstone = AuditEvent.objects.get(action="retention.purged")
    assert tombstone.details["references"] == [closed_changes[0].number, closed_changes[1].number]
    assert tombstone.details["archive_sha256"] == january.sha256 and tombstone.details["reason"] == "retention ended"


def test_the_workspace_lists_the_archives_in_a_fixed_number_of_queries(client, auditor, closed_changes,
                                                                       make_change, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.audit.actor import Actor

    client.force_login(auditor)
    with CaptureQueriesContext(connection) as empty:
        assert "Nothing archived yet." in client.get("/audit/").content.decode()
    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    for month in (4, 5, 6, 7):
        make_change(title=f"Month {month}", state="closed", closed_at=closed(dt.date(2026, month, 3)))
    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    archives = list(Archive.objects.all())
    assert len(archives) >= 6
    with django_assert_max_num_queries(len(empty.captured_queries)):
        html = client.get("/audit/").content.decode()
    section = html.split('id="archives-h"')[1]
    for archive in archives:
        assert f'id="archive-{archive.pk}"' in section and archive.path in section


def test_the_purge_command_refuses_inside_retention_and_purges_after_it(closed_changes, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    import io

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    from apps.audit.actor import Actor

    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    january = Archive.objects.get(record_class="change_request", month=dt.date(2026, 1, 1))
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("audit_archive_purge", str(january.pk), reason="tidy", stderr=err)
    assert exited.value.code == 1 and "inside retention until 2033-01-10" in err.getvalue()
    refused = AuditEvent.objects.get(action="retention.purge_refused")
    assert refused.actor_label == "command:audit_archive_purge"
    with pytest.raises(CommandError, match="No archive with id 999999"):
        call_command("audit_archive_purge", "999999", reason="tidy")

    later = dt.datetime(2033, 2, 1, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: later)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("audit_archive_purge", str(january.pk), reason="retention ended", stdout=out)
    assert "2 records purged" in out.getvalue()
    tombstone = AuditEvent.objects.get(action="retention.purged")
    assert tombstone.actor_label == "command:audit_archive_purge" and tombstone.details["reason"] == "retention ended"
    assert not storages["archive"].exists(january.path)
