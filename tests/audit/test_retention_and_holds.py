"""Retention and legal holds: a purge inside retention or under hold is refused with the reason
and audited; a purge after retention leaves a tombstone; the chain stays verifiable."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from apps.audit.models import AuditEvent, ChainCheckpoint, RetentionPolicy
from apps.audit.retention import (
    audit_events_purge,
    legal_hold_place,
    legal_hold_release,
    records_purge,
    retention_rule,
)
from apps.audit.verification import audit_trail_verify, verify_chain
from releaseportal.errors import Conflict, NotAllowed

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2034, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def records_admin(roles_ready):
    from tests.factories import UserFactory

    user = UserFactory(username="rhea", roles=("auditor",))
    user.user_permissions.add(Permission.objects.get(codename="manage_retention"))
    return user


@pytest.fixture
def old_change(make_change):
    return make_change(approved_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), state="closed",
                       closed_at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC))


def test_the_defaults_are_seven_years_and_six_for_hipaa_only_services():
    assert retention_rule("change_request", [])[0] == 7
    assert retention_rule("change_request", ["hipaa"])[0] == 6
    assert retention_rule("change_request", ["hipaa", "pci"])[0] == 6
    assert retention_rule("change_request", ["hipaa", "sox"])[0] == 7
    RetentionPolicy.objects.filter(record_class="change_request", compliance_scope="").update(years=10)
    assert retention_rule("change_request", ["gdpr"])[0] == 10


def test_a_purge_inside_retention_is_refused_with_the_reason_and_audited(old_change, records_admin):
    with pytest.raises(Conflict) as refused:
        records_purge(record_class="change_request", ids=[old_change.pk], actor=records_admin, reason="cleanup",
                      now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert "inside retention until 2033-01-10" in refused.value.message
    event = AuditEvent.objects.get(action="retention.purge_refused")
    assert event.actor_label == "rhea" and "inside retention" in event.details["reasons"][0]
    assert type(old_change).objects.filter(pk=old_change.pk).exists()


def test_an_open_change_is_never_purged(make_change, records_admin):
    open_change = make_change(state="implementing")
    with pytest.raises(Conflict, match="not closed yet"):
        records_purge(record_class="change_request", ids=[open_change.pk], actor=records_admin, reason="x", now=NOW)


def test_a_purge_under_legal_hold_is_refused_until_the_hold_is_released(old_change, records_admin, service):
    hold = legal_hold_place(actor=records_admin, title="Litigation 2033-17", reason="Subpoena about payments",
                            service=service)
    with pytest.raises(Conflict) as refused:
        records_purge(record_class="change_request", ids=[old_change.pk], actor=records_admin, reason="x", now=NOW)
    assert f"under legal hold #{hold.pk} 'Litigation 2033-17'" in refused.value.message
    assert AuditEvent.objects.filter(action="retention.purge_refused").count() == 1
    legal_hold_release(hold=hold, actor=records_admin, reason="Case closed")
    assert records_purge(record_class="change_request", ids=[old_change.pk], actor=records_admin,
                         reason="retention ended", now=NOW) == 1


def test_holds_match_by_period_and_single_record(old_change, make_change, records_admin):
    other = make_change(state="closed", closed_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    legal_hold_place(actor=records_admin, title="Q1", reason="audit", record_class="change_request",
                     period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), period_end=dt.datetime(2026, 1, 31, tzinfo=dt.UTC))
    legal_hold_place(actor=records_admin, title="One", reason="inquiry", records=[f"change_request:{other.pk}"])
    for change in (old_change, other):
        with pytest.raises(Conflict, match="under legal hold"):
            records_purge(record_class="change_request", ids=[change.pk], actor=records_admin, reason="x", now=NOW)


def test_a_purge_after_retention_removes_the_record_and_its_history_and_leaves_a_tombstone(old_change, records_admin):
    model = type(old_change)
    assert model.history.filter(id=old_change.pk).exists()
    records_purge(record_class="change_request", ids=[old_change.pk], actor=records_admin,
                  reason="retention ended", now=NOW)
    assert not model.objects.filter(pk=old_change.pk).exists()
    assert not model.history.filter(id=old_change.pk).exists()
    tombstone = AuditEvent.objects.get(action="retention.purged")
    assert tombstone.details["references"] == [old_change.number]
    assert tombstone.details["reason"] == "retention ended" and tombstone.actor_label == "rhea"
    assert verify_chain().ok  # the change's own events stay: only the record went


def test_only_records_administrators_place_holds(auditor, service):
    with pytest.raises(NotAllowed):
        legal_hold_place(actor=auditor, title="t", reason="r", service=service)


def test_purging_old_audit_events_keeps_the_chain_verifiable_from_a_checkpoint(records_admin, old_change):
    old = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    # Later activity, seven years on.
    from apps.audit.services import audit_event_record

    audit_event_record(action="portal.note", actor=records_admin, details={"n": 1})
    cutoff_now = dt.datetime.now(dt.UTC) + dt.timedelta(days=7 * 366)
    checkpoint = audit_events_purge(actor=records_admin, reason="retention ended", now=cutoff_now)
    assert isinstance(checkpoint, ChainCheckpoint)
    assert not AuditEvent.objects.filter(seq__lte=checkpoint.seq).exists()
    assert checkpoint.seq >= old[-1]
    tombstone = AuditEvent.objects.get(action="retention.purged")
    assert tombstone.details["through_seq"] == checkpoint.seq and tombstone.details["through_hash"] == checkpoint.hash
    assert not verify_chain().ok  # from genesis the start is gone…
    report = audit_trail_verify()  # …from the checkpoint, which its signed purge anchor vouches for
    assert report.ok, report.problems
    assert report.start_seq == checkpoint.seq and report.chain.head_seq == tombstone.seq


def test_an_open_ended_hold_blocks_the_audit_event_purge(records_admin, old_change):
    legal_hold_place(actor=records_admin, title="Everything", reason="regulator", record_class="audit_event")
    with pytest.raises(Conflict, match="without a start date"):
        audit_events_purge(actor=records_admin, reason="x", now=dt.datetime.now(dt.UTC) + dt.timedelta(days=9 * 366))
    assert AuditEvent.objects.filter(action="retention.purge_refused").exists()


def test_audit_events_cannot_be_deleted_outside_the_sanctioned_purge(old_change):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).delete()


def test_admins_place_and_release_holds_in_the_browser_pages(client, records_admin, service):
    client.force_login(records_admin)
    response = client.post("/audit/holds/", {"title": "Case 9", "reason": "Subpoena", "service": service.pk,
                                             "single_records": ""})
    assert response.status_code == 302
    from apps.audit.models import LegalHold

    hold = LegalHold.objects.get()
    assert "Case 9" in client.get("/audit/holds/").content.decode()
    client.post(f"/audit/holds/{hold.pk}/release/", {"release_reason": "Settled"})
    hold.refresh_from_db()
    assert hold.released_by == records_admin and hold.release_reason == "Settled"


def test_admins_change_a_retention_policy_and_it_is_audited(client, records_admin, auditor):
    policy = RetentionPolicy.objects.get(record_class="incident", compliance_scope="")
    client.force_login(auditor)
    assert client.post("/audit/retention/", {"policy": policy.pk, "years": 9, "counted_from": "closure"}).status_code == 403
    client.force_login(records_admin)
    response = client.post("/audit/retention/", {"policy": policy.pk, "years": 9, "counted_from": "closure",
                                                 "description": "longer"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.years == 9
    assert AuditEvent.objects.filter(action="retention.policy_updated", object_id=str(policy.pk)).exists()
