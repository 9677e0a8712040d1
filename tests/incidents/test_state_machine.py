"""The incident status table: allowed moves, timestamps, refusals, and the review gate on close."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.incidents import services
from apps.incidents.models import Incident, IncidentUpdate, Review
from apps.incidents.reviews import review_complete, review_save
from apps.incidents.state_machine import TRANSITIONS, is_allowed
from releaseportal.errors import Conflict, InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service, requester):
    return services.incident_open(service=service, title="Card payments failing", severity="sev3",
                                  started_at=timezone.now() - timedelta(hours=1), actor=requester)


def test_the_table_allows_the_forward_path_and_reopening():
    assert is_allowed("open", "mitigated") and is_allowed("mitigated", "resolved") and is_allowed("resolved", "closed")
    assert is_allowed("open", "resolved")
    assert is_allowed("resolved", "open")
    assert not is_allowed("open", "closed")
    assert not is_allowed("closed", "open")
    assert TRANSITIONS["closed"] == set()


def test_opening_records_the_first_timeline_entry_and_an_audit_event(incident):
    assert incident.status == "open"
    assert list(incident.updates.values_list("kind", flat=True)) == ["opened"]
    assert AuditEvent.objects.filter(action="incident.opened", object_id=str(incident.pk)).exists()
    assert incident.history.count() == 1


def test_mitigating_then_resolving_stamps_each_time(incident, requester):
    services.incident_post_update(incident=incident, actor=requester, to_status="mitigated", message="Feature flag off")
    incident.refresh_from_db()
    assert incident.status == "mitigated" and incident.mitigated_at is not None and incident.resolved_at is None
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at >= incident.mitigated_at
    kinds = list(incident.updates.values_list("kind", "from_status", "to_status"))
    assert kinds[1:] == [("status", "open", "mitigated"), ("status", "mitigated", "resolved")]
    assert AuditEvent.objects.filter(action="incident.resolved", object_id=str(incident.pk)).count() == 1


def test_resolving_straight_from_open_also_sets_mitigated(incident, requester):
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    incident.refresh_from_db()
    assert incident.mitigated_at == incident.resolved_at


def test_a_disallowed_move_is_refused_and_changes_nothing(incident, requester):
    with pytest.raises(Conflict) as exc:
        services.incident_post_update(incident=incident, actor=requester, to_status="closed")
    assert exc.value.code == "invalid_transition"
    incident.refresh_from_db()
    assert incident.status == "open" and incident.updates.count() == 1


def test_reopening_clears_resolution(incident, requester):
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    services.incident_post_update(incident=incident, actor=requester, to_status="open", message="It is back")
    incident.refresh_from_db()
    assert incident.status == "open" and incident.resolved_at is None and incident.mitigated_at is None


def test_a_resolution_time_before_the_start_is_refused(incident, requester):
    with pytest.raises(InvalidInput) as exc:
        services.incident_post_update(incident=incident, actor=requester, to_status="resolved",
                                      at=incident.started_at - timedelta(minutes=1))
    assert "resolved_at" in exc.value.fields


def test_a_note_without_status_is_a_timeline_update(incident, requester):
    update = services.incident_post_update(incident=incident, actor=requester, message="Investigating the DB")
    assert update.kind == IncidentUpdate.Kind.NOTE and update.author == requester


def test_an_empty_update_is_refused(incident, requester):
    with pytest.raises(InvalidInput):
        services.incident_post_update(incident=incident, actor=requester, message="  ")


def test_a_sev2_incident_closes_only_after_its_review_is_completed(service, requester):
    incident = services.incident_open(service=service, title="Outage", severity="sev2",
                                      started_at=timezone.now() - timedelta(hours=2), actor=requester)
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    review = Review.objects.get(incident=incident)  # created on resolution because sev2 requires one
    with pytest.raises(Conflict) as exc:
        services.incident_post_update(incident=incident, actor=requester, to_status="closed")
    assert exc.value.code == "review_required"
    review_save(review=review, actor=requester, summary="DB pool exhausted", contributing_factors="No load test")
    review_complete(review=review, actor=requester)
    services.incident_post_update(incident=incident, actor=requester, to_status="closed")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED


def test_a_sev3_incident_closes_without_a_review(incident, requester):
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    services.incident_post_update(incident=incident, actor=requester, to_status="closed")
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert not Review.objects.filter(incident=incident).exists()
    with pytest.raises(Conflict):
        services.incident_post_update(incident=incident, actor=requester, message="late note")
