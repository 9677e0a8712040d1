"""A campaign close whose worker died is not left "closing" forever (issue #17): the reaper
dispatches it again for the admin who asked, up to three attempts, then opens the campaign again
with the reason; the campaign page shows each state. A close still within its time is left alone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.access_reviews import tasks
from apps.access_reviews.models import ReviewCampaign, ReviewItem
from apps.access_reviews.reaper import CLOSE_ATTEMPTS
from apps.access_reviews.services import campaign_close_request, item_decide
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _page(client, campaign, django_assert_max_num_queries) -> str:
    with django_assert_max_num_queries(30):
        response = client.get(reverse("access_reviews:campaign", args=[campaign.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_close_whose_worker_died_is_retried_then_failed_with_a_reason_on_the_page(
        client, clock, settings, monkeypatch, access_admin, approver, service, make_grant, open_campaign,
        django_capture_on_commit_callbacks, django_assert_max_num_queries):
    settings.ACCESS_REVIEW_CLOSE_IN_REQUEST_MAX_ITEMS = 0
    settings.STUCK_WORK_TIMEOUT_MINUTES = 15
    clock("2026-06-16 10:00")
    grant = make_grant(approver, service, last_used_days=1)
    campaign = open_campaign()
    item_decide(item=ReviewItem.objects.get(grant=grant), decision="revoke", actor=access_admin)
    dispatched = []
    # The worker dies: the close is dispatched and never runs.
    monkeypatch.setattr(tasks.close_campaign, "delay", lambda *args: dispatched.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_close_request(campaign=campaign, actor=access_admin) is None
    assert dispatched == [(campaign.pk, access_admin.pk)]

    def reap(at):
        clock(at)
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.reap_stuck_campaign_closes.delay().get()

    assert reap("2026-06-16 10:10") == {"retried": 0, "failed": 0}  # still within its time
    campaign.refresh_from_db()
    assert campaign.status == "closing" and campaign.close_error == "" and len(dispatched) == 1

    assert reap("2026-06-16 10:20") == {"retried": 1, "failed": 0}
    campaign.refresh_from_db()
    assert campaign.status == "closing" and campaign.close_attempts == 2
    assert dispatched[-1] == (campaign.pk, access_admin.pk)  # again acting for the admin who asked
    retried = AuditEvent.objects.get(action="access_review.campaign_close_retried")
    assert retried.details == {"error": "worker lost", "attempt": 2} and "reap_stuck_campaign_closes" in retried.actor_label
    latest = campaign.history.first()
    assert latest.close_attempts == 2 and latest.close_error == campaign.close_error
    client.force_login(access_admin)
    body = _page(client, campaign, django_assert_max_num_queries)
    assert "Worker lost" in body and f"retrying (attempt 2 of {CLOSE_ATTEMPTS})" in body

    assert reap("2026-06-16 10:40") == {"retried": 1, "failed": 0}
    assert reap("2026-06-16 11:00") == {"retried": 0, "failed": 1}
    campaign.refresh_from_db()
    assert campaign.status == ReviewCampaign.Status.OPEN and campaign.close_error.startswith("Closing failed: worker lost")
    assert len(dispatched) == 3  # the first dispatch and two retries
    failed = AuditEvent.objects.get(action="access_review.campaign_close_failed")
    assert failed.details == {"error": "worker lost", "attempts": CLOSE_ATTEMPTS}
    body = _page(client, campaign, django_assert_max_num_queries)
    assert "Closing failed: worker lost" in body and "Close and apply revocations" in body
    assert reap("2026-06-16 12:00") == {"retried": 0, "failed": 0}  # an open campaign is not the reaper's

    # The admin closes again; this time the worker finishes, and the reason goes away.
    with django_capture_on_commit_callbacks(execute=True):
        campaign_close_request(campaign=campaign, actor=access_admin)
    campaign.refresh_from_db()
    assert campaign.close_attempts == 1 and campaign.close_error == ""
    assert tasks.close_campaign(campaign.pk, access_admin.pk)["revoked"] == 1
    campaign.refresh_from_db()
    assert campaign.status == "closed" and campaign.close_error == ""
    assert reap("2026-06-16 13:00") == {"retried": 0, "failed": 0}
    body = _page(client, campaign, django_assert_max_num_queries)
    assert "worker lost" not in body.lower()


def test_the_close_reaper_is_on_the_beat_schedule_and_the_close_survives_a_lost_worker():
    from releaseportal.celery import collect_beat_schedule

    assert any(entry["task"] == "apps.access_reviews.tasks.reap_stuck_campaign_closes"
               for entry in collect_beat_schedule().values())
    assert tasks.close_campaign.acks_late and tasks.close_campaign.reject_on_worker_lost
    assert tasks.generate_campaign_report.acks_late and tasks.generate_campaign_report.reject_on_worker_lost
