"""Records brought in without their services still get one audit event each, naming who acted."""

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import audit_events_imported
from apps.audit.verification import verify_chain
from tests.factories import ServiceFactory


@pytest.mark.django_db
def test_each_imported_record_gets_one_event_by_its_actor(requester, approver, team):
    services = [ServiceFactory(slug=f"svc-{i}", owner_team=team) for i in range(5)]
    owner = {s.pk: (requester if i % 2 else approver) for i, s in enumerate(services)}
    written = audit_events_imported(
        services, action=lambda s: f"test.imported.{s.slug}", actor_id_of=lambda s: owner[s.pk].pk,
        occurred_at_of=lambda s: s.created_at if hasattr(s, "created_at") else None,
        repr_of=lambda s: s.name, details_of=lambda s: {"slug": s.slug}, batch_size=2)
    assert written == 5
    events = {e.object_id: e for e in AuditEvent.objects.filter(action__startswith="test.imported.")}
    assert set(events) == {str(s.pk) for s in services}
    for service in services:
        event = events[str(service.pk)]
        assert event.action == f"test.imported.{service.slug}" and event.object_type == "catalog.service"
        assert event.actor_label == owner[service.pk].username and event.actor_type == "user"
        assert event.details["imported"] is True and event.details["slug"] == service.slug
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_record_without_an_actor_is_imported_by_the_system():
    from apps.accounts.models import Team

    team = Team.objects.create(slug="t", name="T")
    audit_events_imported([team], action="test.imported", actor_id_of=lambda t: None, occurred_at_of=lambda t: None)
    event = AuditEvent.objects.get(action="test.imported")
    assert event.actor_type == "system" and event.actor_label == "import"
