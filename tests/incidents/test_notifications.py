"""Stakeholders are emailed on open, each update, rollback and resolution — once per event."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.incidents import services
from apps.incidents.models import IncidentNotification
from apps.incidents.notifications import notification_send, stakeholder_emails
from apps.incidents.tasks import send_incident_notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def stakeholders(service, team, requester, approver, roles_ready):
    team.email = "payments@example.test"
    team.save()
    watcher = UserFactory(username="wanda", roles=("executive",))
    services.subscription_set(service=service, user=watcher, subscribed=True, actor=watcher)
    return sorted({requester.email, approver.email, watcher.email, "payments@example.test"})


def test_stakeholders_are_the_team_its_mailbox_and_subscribers(service, stakeholders):
    assert stakeholder_emails(service) == stakeholders


def test_each_event_is_emailed_once_after_commit(service, requester, stakeholders, django_capture_on_commit_callbacks,
                                                 make_deployment):
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_open(service=service, title="Checkout down", severity="sev3",
                                          started_at=timezone.now() - timedelta(hours=1), actor=requester)
    assert len(mail.outbox) == len(stakeholders)
    assert "incident opened" in mail.outbox[0].subject
    assert sorted(m.to[0] for m in mail.outbox) == stakeholders

    with django_capture_on_commit_callbacks(execute=True):
        services.incident_post_update(incident=incident, actor=requester, message="Scaling out", to_status="mitigated")
    rollback_deployment = make_deployment(kind="rollback", finished_at=timezone.now(), version="0.9")
    with django_capture_on_commit_callbacks(execute=True):
        services.rollback_record(incident=incident, deployment=rollback_deployment, actor=requester)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    events = list(IncidentNotification.objects.order_by("created_at", "pk").values_list("event", flat=True))
    assert events == ["opened", "update", "rollback", "resolved"]
    assert len(mail.outbox) == 4 * len(stakeholders)
    assert all(n.sent_at and n.recipients == stakeholders for n in IncidentNotification.objects.all())


def test_nothing_is_sent_when_the_transaction_rolls_back(service, requester, stakeholders,
                                                         django_capture_on_commit_callbacks):
    from django.db import transaction

    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        services.incident_open(service=service, title="x", severity="sev3",
                               started_at=timezone.now() - timedelta(hours=1), actor=requester)
        raise RuntimeError("boom")
    assert callbacks == [] and mail.outbox == []


def test_running_the_task_again_sends_nothing_more(service, requester, stakeholders,
                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_open(service=service, title="x", severity="sev3",
                                          started_at=timezone.now() - timedelta(hours=1), actor=requester)
    sent = len(mail.outbox)
    opened = incident.updates.get(kind="opened")
    assert send_incident_notification(incident.pk, "opened", opened.pk) is False
    assert notification_send(incident_id=incident.pk, event="opened", ref_id=opened.pk) is None
    assert len(mail.outbox) == sent
    assert IncidentNotification.objects.count() == 1
