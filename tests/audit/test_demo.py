"""The audit demo tells an auditor's story through the real services: an archived quarter erin
finds and exports, a legal hold placed by the administrator with a purge it refused, and her
signed SOX pack that verifies offline; seeding twice adds nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.storage import storages

from apps.audit.models import Archive, ArchivedRecord, AuditEvent, EvidencePack, LegalHold

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)


@pytest.fixture
def demo_ctx(roles_ready):
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext

    ctx = DemoContext(seed=7, stdout=io.StringIO())
    ctx.now = NOW
    accounts_demo.seed(ctx)
    catalog_demo.seed(ctx)
    return ctx


@pytest.fixture
def demo_history(demo_ctx):
    """A closed payments change in the demo quarter (2026 Q1), and October's production deployments."""
    from apps.change_types.models import ChangeType
    from apps.changes.models import ChangeRequest
    from apps.delivery.models import Deployment

    normal, _ = ChangeType.objects.get_or_create(slug="normal", defaults={"name": "Normal"})
    payments, prod = demo_ctx.services["payments-api"], demo_ctx.environments["prod"]
    change = ChangeRequest.objects.create(
        title="Rotate card vault keys", change_type=normal, service=payments, environment=prod,
        requester=demo_ctx.users["alice"], state="closed", approved_at=dt.datetime(2026, 2, 2, tzinfo=dt.UTC),
        closed_at=dt.datetime(2026, 2, 3, tzinfo=dt.UTC))
    change.number = ChangeRequest.format_number(change.pk)
    change.save(update_fields=["number"])
    Deployment.objects.create(service=payments, environment=prod, change=change, status="succeeded", version="4.1.0",
                              started_at=dt.datetime(2026, 10, 7, 10, tzinfo=dt.UTC),
                              finished_at=dt.datetime(2026, 10, 7, 10, 20, tzinfo=dt.UTC))
    Deployment.objects.create(service=payments, environment=prod, status="succeeded", version="4.1.1",
                              started_at=dt.datetime(2026, 10, 9, 10, tzinfo=dt.UTC),
                              finished_at=dt.datetime(2026, 10, 9, 10, 20, tzinfo=dt.UTC))
    return change


def _seed_audit(ctx):
    from apps.audit import demo

    demo.seed(ctx)


def test_the_demo_quarter_is_the_oldest_the_demo_history_fills():
    from apps.audit.demo import demo_quarter

    assert demo_quarter(NOW) == (2026, 1)
    assert demo_quarter(dt.datetime(2027, 5, 2, tzinfo=dt.UTC)) == (2026, 3)


def test_the_demo_archives_a_quarter_erin_can_search_and_export(client, demo_ctx, demo_history):
    _seed_audit(demo_ctx)
    archive = Archive.objects.get(record_class="change_request")
    assert archive.month == dt.date(2026, 2, 1) and archive.record_count == 1
    assert AuditEvent.objects.filter(action="archive.written", actor_label="command:seed_demo").exists()
    client.force_login(demo_ctx.users["erin"])
    html = client.get("/audit/", {"q": "Rotate card vault keys"}).content.decode()
    assert demo_history.number in html.split('id="res-archived"')[1]
    record = ArchivedRecord.objects.get(record_class="change_request", object_id=str(demo_history.pk))
    assert client.get(f"/audit/archived/{record.pk}/export/").json()["record"]["title"] == "Rotate card vault keys"


def test_the_demo_hold_is_placed_by_the_administrator_and_refuses_a_purge(demo_ctx, demo_history):
    _seed_audit(demo_ctx)
    hold = LegalHold.objects.get()
    assert hold.placed_by.username == "admin" and hold.service.slug == "payments-api" and hold.is_active
    placed = AuditEvent.objects.get(action="legal_hold.placed")
    assert placed.actor_label == "admin" and placed.object_id == str(hold.pk)
    refused = AuditEvent.objects.get(action="retention.purge_refused")
    reasons = " ".join(refused.details["reasons"])
    assert "inside retention" in reasons and f"under legal hold #{hold.pk}" in reasons
    assert storages["archive"].exists(Archive.objects.get(record_class="change_request").path)


def test_the_demo_pack_is_requested_by_erin_signed_and_verifies_offline(client, demo_ctx, demo_history, tmp_path):
    from releaseportal.verify import verify

    _seed_audit(demo_ctx)
    pack = EvidencePack.objects.get()
    assert pack.status == "ready" and pack.requested_by.username == "erin" and pack.signing_key_id
    assert pack.parameters["period_start"] == "2026-10-01" and pack.parameters["period_end"] == "2026-10-31"
    assert pack.counts["production_deployments"] == 2 and pack.counts["exceptions"] == 1  # 4.1.1 had no change
    assert AuditEvent.objects.filter(action="evidence_pack.requested", actor_label="erin").exists()
    assert AuditEvent.objects.filter(action="evidence_pack.generated", object_id=str(pack.pk)).exists()
    client.force_login(demo_ctx.users["erin"])
    assert f'href="/audit/packs/{pack.pk}/download/"' in client.get("/audit/").content.decode()
    path = tmp_path / "pack.zip"
    path.write_bytes(storages["archive"].open(pack.path, "rb").read())
    assert verify(str(path), [pack.signing_key.public_key_pem.encode()]).ok


def test_seeding_the_audit_demo_twice_adds_nothing(demo_ctx, demo_history):
    _seed_audit(demo_ctx)
    counts = (Archive.objects.count(), LegalHold.objects.count(), EvidencePack.objects.count(),
              AuditEvent.objects.count())
    _seed_audit(demo_ctx)
    assert (Archive.objects.count(), LegalHold.objects.count(), EvidencePack.objects.count(),
            AuditEvent.objects.count()) == counts
