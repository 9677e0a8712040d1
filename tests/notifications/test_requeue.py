"""Messages queued while the task queue was unavailable are not lost: the re-send job (beat,
every five minutes) hands them to the workers again, a bounded number of times, then fails them
with the reason the team's lead sees."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from apps.audit.models import AuditEvent
from apps.changes.services import change_submit
from apps.notifications.models import ChatDelivery
from apps.notifications.tasks import deliver_chat_message, requeue_stale_deliveries

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch):
    """broker.down = True: handing a task to Celery fails as it does when the broker is unreachable."""

    class Broker:
        down = False

    state = Broker()
    real_delay = deliver_chat_message.delay

    def delay(*args, **kwargs):
        if state.down:
            raise OperationalError("[Errno 111] Connection refused")
        return real_delay(*args, **kwargs)

    monkeypatch.setattr(deliver_chat_message, "delay", delay)
    return state


@pytest.fixture
def queued_while_down(clock, broker, receiver, make_channel, team, make_change, requester,
                      django_capture_on_commit_callbacks):
    """An approval request submitted at 09:00 while the broker is down."""
    clock("2026-12-03 09:00")
    make_channel(team, "payments-approvals", events=["approval_requested"])
    change = make_change()
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        change_submit(change=change, actor=requester)
    return ChatDelivery.objects.get()


def _run_job(clock, when, capture):
    clock(when)
    with capture(execute=True):
        return requeue_stale_deliveries.delay().get()


def test_a_message_queued_while_the_broker_was_down_is_sent_by_the_re_send_job(
        queued_while_down, broker, receiver, clock, client, lead, team, django_capture_on_commit_callbacks):
    delivery = queued_while_down
    assert (delivery.status, delivery.attempts) == ("queued", 0) and receiver.posts == []
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Not yet handed to a worker: the task queue was unavailable")
    client.force_login(lead)
    page = client.get(f"/teams/{team.slug}/notifications/").content.decode()
    assert "queued" in page and "Not yet handed to a worker" in page

    broker.down = False
    # Not before it has been quiet for CHAT_DELIVERY_REQUEUE_AFTER_MINUTES (5).
    assert _run_job(clock, "2026-12-03 09:03", django_capture_on_commit_callbacks) == {"requeued": 0, "failed": 0}
    assert receiver.posts == []

    assert _run_job(clock, "2026-12-03 09:06", django_capture_on_commit_callbacks) == {"requeued": 1, "failed": 0}

    [post] = receiver.to("payments-approvals")
    assert post["json"]["text"].startswith("Approval needed:")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.requeues, delivery.last_error) == ("sent", 1, 1, "")
    # Sent once: the next run finds nothing to do.
    assert _run_job(clock, "2026-12-03 09:30", django_capture_on_commit_callbacks) == {"requeued": 0, "failed": 0}
    assert len(receiver.posts) == 1


def test_re_sends_are_bounded_then_the_message_is_failed_visibly(
        queued_while_down, receiver, clock, client, lead, team, settings, django_capture_on_commit_callbacks):
    assert settings.CHAT_DELIVERY_MAX_REQUEUES == 3
    for n, when in enumerate(["09:06", "09:12", "09:18"], start=1):
        assert _run_job(clock, f"2026-12-03 {when}", django_capture_on_commit_callbacks) == {"requeued": 1,
                                                                                            "failed": 0}
        delivery = ChatDelivery.objects.get()
        assert (delivery.status, delivery.requeues) == ("queued", n)
        # The broker is still down: the row says so again after each re-send.
        assert delivery.last_error.startswith("Not yet handed to a worker")

    assert _run_job(clock, "2026-12-03 09:24", django_capture_on_commit_callbacks) == {"requeued": 0, "failed": 1}

    delivery = ChatDelivery.objects.get()
    assert delivery.status == "failed" and delivery.finished_at is not None
    assert delivery.last_error.startswith("Not sent: no worker took it after 3 re-sends")
    event = AuditEvent.objects.get(action="notifications.delivery_failed")
    assert event.details["requeues"] == 3 and event.actor_label == "task:notifications.requeue_stale_deliveries"
    assert receiver.posts == []
    # Failed is final: later runs leave it alone.
    assert _run_job(clock, "2026-12-03 10:00", django_capture_on_commit_callbacks) == {"requeued": 0, "failed": 0}
    client.force_login(lead)
    page = client.get(f"/teams/{team.slug}/notifications/").content.decode()
    assert "badge-bad\">failed" in page and "no worker took it after 3 re-sends" in page


def test_a_message_waiting_for_a_celery_retry_is_not_handed_over_twice(
        queued_while_down, broker, receiver, clock, settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    broker.down = False
    settings.CHAT_WEBHOOK_BACKOFF_MAX_SECONDS = 600
    # Tried at 09:01 and failed; Celery may hold the retry for up to the longest backoff (10 min).
    ChatDelivery.objects.update(attempts=1, last_attempt_at=timezone.now() + timedelta(minutes=1),
                                last_error="HTTP 503")

    assert _run_job(clock, "2026-12-03 09:10", django_capture_on_commit_callbacks) == {"requeued": 0, "failed": 0}
    assert receiver.posts == []

    assert _run_job(clock, "2026-12-03 09:17", django_capture_on_commit_callbacks) == {"requeued": 1, "failed": 0}
    delivery = ChatDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.requeues) == ("sent", 2, 1)


def test_beat_runs_the_re_send_job_every_five_minutes():
    from releaseportal.celery import app, collect_beat_schedule

    entry = collect_beat_schedule()["notifications-requeue-stale-deliveries"]
    assert entry["task"] == requeue_stale_deliveries.name and entry["task"] in app.tasks
    assert entry["schedule"].minute == set(range(0, 60, 5))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_message_handed_over_several_times_at_once_is_posted_once(receiver, make_channel, team):
    """The re-send job may hand over a message whose first task was only late: however many
    tasks for it run at the same moment, the row is locked while one of them posts it."""
    from apps.notifications.services import chat_delivery_attempt
    from tests.concurrency import race

    from .conftest import SECRET

    channel = make_channel(team, "payments-rollbacks", events=["rollback"])
    delivery = ChatDelivery.objects.create(channel=channel, event="rollback", target_type="delivery.deployment",
                                           target_id="1", target_repr="deployment #1", title="Rollback",
                                           link="https://portal.example.test/delivery/")
    receiver.slow[f"/payments-rollbacks/{SECRET}"] = 0.5

    outcomes = race(8, lambda i: chat_delivery_attempt(delivery_id=delivery.pk, last=True))

    assert sorted(outcomes) == ["done"] * 7 + ["sent"]
    assert len(receiver.to("payments-rollbacks")) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
