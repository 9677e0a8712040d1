"""The audit log page (issue #16): details read as labelled values, targets as linked labels,
people by name and username, a fixed number of queries per page, the chain verified from the
browser; the CSV export (issue #17) streams, declares UTF-8 and neutralises formulas."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent, ChainVerification
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_events(make_change, make_deployment, service, requester):
    """Events about changes, deployments, a service and an object that is gone."""
    import datetime as dt

    changes = [make_change(title=f"Change {n}") for n in range(3)]
    for n in range(3):
        make_deployment(change=changes[n], started_at=dt.datetime(2026, 7, 1 + n, 12, tzinfo=dt.UTC))
    audit_event_record(action="catalog.service_updated", target=service, actor=requester,
                       details={"unauthorised": False, "fields": ["name", "tier"], "ip": "10.0.0.1"})
    audit_event_record(action="change.deleted", object_type="changes.changerequest", object_id="999999",
                       object_repr="CHG-999999 Gone", actor=requester)
    return changes


def test_details_read_as_a_definition_list_of_humanised_keys(client, auditor, log_events):
    client.force_login(auditor)
    body = client.get(reverse("audit:log")).content.decode()
    assert "{'unauthorised'" not in body and "{&#x27;unauthorised" not in body
    assert "<dt>Unauthorised</dt><dd>no</dd>" in body
    assert "<dt>Fields</dt><dd>name, tier</dd>" in body
    assert "<dt>IP address</dt><dd>10.0.0.1</dd>" in body


def test_targets_read_as_labels_linking_to_the_object_page(client, auditor, log_events, service):
    client.force_login(auditor)
    body = client.get(reverse("audit:log")).content.decode()
    change = log_events[0]
    assert f'<a href="/changes/{change.number}/">Change {change.number}</a>' in body
    assert f'<a href="/services/{service.slug}/">Service {service.name}</a>' in body
    assert 'href="/delivery/deployments/' in body
    # A target that no longer exists reads as its kind and id, without a link.
    assert "Change request #999999" in body
    assert 'href="/changes/CHG-999999/"' not in body


def test_the_actor_column_names_the_person_and_the_account(client, auditor, log_events, requester):
    requester.first_name, requester.last_name = "Rita", "Quest"
    requester.save()
    client.force_login(auditor)
    body = client.get(reverse("audit:log")).content.decode()
    assert f'Rita Quest <span class="muted">({requester.username})</span>' in body


def test_the_page_costs_the_same_queries_for_three_or_thirty_events_of_every_kind(
        client, auditor, log_events, make_change, django_assert_max_num_queries):
    client.force_login(auditor)
    client.get(reverse("audit:log"))  # warm caches (content types, sessions)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("audit:log"))
    for n in range(27):
        make_change(title=f"More {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("audit:log"))
    assert response.content.decode().count("<tr id=\"event-") >= 30


@pytest.mark.parametrize("name", ["audit:log", "audit:log_csv", "audit:chain_status"])
def test_outsiders_are_refused_and_anonymous_users_sent_to_sign_in(client, outsider, name):
    anonymous = client.get(reverse(name))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    client.force_login(outsider)
    assert client.get(reverse(name)).status_code == 403


def test_outsiders_cannot_verify_the_chain(client, outsider):
    assert client.post(reverse("audit:chain_verify")).status_code == 302  # anonymous: to sign in
    client.force_login(outsider)
    assert client.post(reverse("audit:chain_verify")).status_code == 403
    assert not ChainVerification.objects.exists()


def test_an_auditor_verifies_the_chain_and_the_page_shows_the_verdict(
        client, auditor, log_events, django_capture_on_commit_callbacks):
    from apps.audit.anchors import chain_anchor_write

    chain_anchor_write(reason="test")  # signed with the development key derived from SECRET_KEY
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audit:chain_verify"))
    assert response.status_code == 302
    verification = ChainVerification.objects.get()
    assert verification.status == ChainVerification.Status.INTACT
    assert verification.requested_by == auditor and verification.finished_at is not None
    head = AuditEvent.objects.filter(action="audit.chain_verification_requested").get().seq
    assert verification.head_seq == head and verification.checked == head
    assert verification.anchor_key_id and verification.anchor_key_development
    verified = AuditEvent.objects.get(action="audit.chain_verified")
    assert verified.details["status"] == "intact" and verified.object_id == str(verification.pk)
    body = client.get(reverse("audit:log")).content.decode()
    assert 'id="chain-verdict">intact' in body
    assert verification.anchor_key_id in body and "development key" in body


def test_a_broken_chain_is_reported_as_broken_with_the_reason(
        client, auditor, log_events, monkeypatch, django_capture_on_commit_callbacks):
    from apps.audit import chain_checks
    from apps.audit.verification import ChainReport, TrailReport

    monkeypatch.setattr(chain_checks, "audit_trail_verify", lambda: TrailReport(
        chain=ChainReport(False, 4, 4, "a" * 64, broken_seq=5, reason="sequence 5 was altered")))
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("audit:chain_verify"))
    verification = ChainVerification.objects.get()
    assert verification.status == ChainVerification.Status.BROKEN and verification.broken_seq == 5
    body = client.get(reverse("audit:chain_status")).content.decode()
    assert 'id="chain-verdict">broken' in body and "sequence 5 was altered" in body


def test_a_second_click_while_one_runs_starts_no_second_verification(client, auditor):
    client.force_login(auditor)
    client.post(reverse("audit:chain_verify"))  # on_commit not run: it stays queued
    response = client.post(reverse("audit:chain_verify"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in response.content.decode()
    assert ChainVerification.objects.count() == 1
    assert AuditEvent.objects.filter(action="audit.chain_verification_requested").count() == 1


def test_the_csv_streams_utf8_and_neutralises_formulas(client, auditor, requester, django_assert_max_num_queries):
    audit_events_record_many(events=[PendingEvent(action="change.created", object_type="changes.changerequest",
                                                  object_id=str(n), object_repr='=HYPERLINK("x")')
                                     for n in range(40)], actor=requester)
    client.force_login(auditor)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("audit:log_csv"))
        body = b"".join(response.streaming_content).decode("utf-8")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    assert body.count("'=HYPERLINK(\"\"x\"\")") == 40
    assert ',=HYPERLINK' not in body


def test_the_csv_details_are_the_canonical_text_that_was_hashed(client, auditor, requester):
    """The export reads the stored canonical text as it is (no parse and re-serialise): sorted keys,
    no spaces, non-ASCII kept, nested values intact, exactly what canonical_details() hashes."""
    import csv
    import io

    from apps.audit.chain import canonical_details

    details = {"zeta": [3, {"b": None, "a": "Zoë"}], "alpha": {"y": 1.5, "x": True}, "note": "=1+1"}
    audit_event_record(action="change.updated", actor=requester, details=details, object_type="changes.changerequest",
                       object_id="7")
    client.force_login(auditor)
    body = b"".join(client.get(reverse("audit:log_csv")).streaming_content).decode("utf-8")
    rows = [row for row in csv.DictReader(io.StringIO(body)) if row["action"] == "change.updated"]
    assert [row["details"] for row in rows] == [canonical_details(details)]
    assert rows[0]["details"] == '{"alpha":{"x":true,"y":1.5},"note":"=1+1","zeta":[3,{"a":"Zoë","b":null}]}'


@pytest.mark.parametrize("moment", ["2026-07-01T09:30:00.250001+02:00", "2026-07-01T23:59:59+00:00"],
                         ids=["fraction, another offset", "whole second"])
def test_the_csv_writes_each_time_as_its_isoformat_in_utc(client, auditor, requester, monkeypatch, moment):
    """The database writes the time (releaseportal/isoformat.py): the same text as Python's
    isoformat() of the stored value, a whole second without a fraction."""
    import csv
    import io
    from datetime import datetime

    from django.utils import timezone

    pinned = datetime.fromisoformat(moment)
    monkeypatch.setattr(timezone, "now", lambda: pinned)
    event = audit_event_record(action="change.updated", actor=requester, object_type="changes.changerequest",
                               object_id="7")
    client.force_login(auditor)
    body = b"".join(client.get(reverse("audit:log_csv")).streaming_content).decode("utf-8")
    rows = {row["seq"]: row for row in csv.DictReader(io.StringIO(body))}
    stored = AuditEvent.objects.get(pk=event.pk).created_at
    assert rows[str(event.seq)]["created_at"] == stored.isoformat()
    assert stored.isoformat() in ("2026-07-01T07:30:00.250001+00:00", "2026-07-01T23:59:59+00:00")


def test_the_csv_costs_the_same_queries_for_ten_or_a_thousand_events(client, auditor, requester,
                                                                     django_assert_max_num_queries):
    def export_queries() -> int:
        with django_assert_max_num_queries(10) as captured:
            body = b"".join(client.get(reverse("audit:log_csv")).streaming_content)
        assert body.count(b"\r\n") == AuditEvent.objects.count() + 1  # the header, then one line per event
        return len(captured.captured_queries)

    audit_events_record_many(events=[PendingEvent(action="change.created", object_type="changes.changerequest",
                                                  object_id=str(n)) for n in range(10)], actor=requester)
    client.force_login(auditor)
    few = export_queries()
    audit_events_record_many(events=[PendingEvent(action="change.created", object_type="changes.changerequest",
                                                  object_id=str(n)) for n in range(1000)], actor=requester)
    assert export_queries() == few
