"""Beat work: the quarterly campaign, reminders before the due date, escalation after it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.access_reviews.models import ReviewCampaign
from apps.access_reviews.services import (
    campaign_escalate_overdue,
    campaign_open_quarterly,
    campaign_reminders_send,
    item_decide,
    quarter_period,
)
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("day", "period"), [
    (date(2026, 1, 1), "2026-Q1"), (date(2026, 3, 31), "2026-Q1"), (date(2026, 4, 1), "2026-Q2"),
    (date(2026, 6, 30), "2026-Q2"), (date(2026, 7, 1), "2026-Q3"), (date(2026, 10, 1), "2026-Q4"),
    (date(2026, 12, 31), "2026-Q4"), (date(2027, 1, 1), "2027-Q1"),
])
def test_quarters_are_calendar_quarters(day, period):
    assert quarter_period(day) == period


def test_the_quarterly_campaign_opens_once_per_quarter(team_lead, approver, service, make_grant, access_admin):
    make_grant(approver, service)
    last_day = date(2026, 3, 31)
    q1, created = campaign_open_quarterly(actor=access_admin, today=last_day)
    assert created and q1.period == "2026-Q1"
    again, created = campaign_open_quarterly(actor=access_admin, today=last_day)
    assert not created and again.pk == q1.pk
    q2, created = campaign_open_quarterly(actor=access_admin, today=date(2026, 4, 1))
    assert created and q2.period == "2026-Q2" and q2.pk != q1.pk
    assert q2.name == "Quarterly access review 2026 Q2"
    assert q2.due_date == date(2026, 5, 1)
    assert q2.items.count() == 1
    assert ReviewCampaign.objects.count() == 2


def test_the_beat_task_opens_the_current_quarter(team_lead, approver, service, make_grant):
    from apps.access_reviews.tasks import open_quarterly_campaign

    make_grant(approver, service)
    first = open_quarterly_campaign.delay().get()
    assert open_quarterly_campaign.delay().get() == first
    campaign = ReviewCampaign.objects.get()
    assert campaign.period == quarter_period(timezone.localdate())
    assert campaign.opened_by.username == "system"
    event = AuditEvent.objects.get(action="access_review.campaign_opened")
    assert event.actor_label == "task:access_reviews.open_quarterly_campaign"


def test_the_beat_schedule_runs_on_the_first_days_of_each_quarter():
    from apps.access_reviews.schedules import BEAT

    schedule = BEAT["access-reviews-open-quarterly"]["schedule"]
    assert schedule.month_of_year == {1, 4, 7, 10}
    assert 1 in schedule.day_of_month


def test_reminders_go_to_reviewers_with_open_items_once_a_day(team_lead, approver, requester, service, make_grant,
                                                              open_campaign, access_admin,
                                                              django_capture_on_commit_callbacks):
    make_grant(approver, service, last_used_days=1)
    decided = make_grant(requester, service, last_used_days=1)
    today = timezone.localdate()
    campaign = open_campaign(due_date=today + timedelta(days=5))
    item_decide(item=campaign.items.get(grant=decided), decision="keep", actor=team_lead)
    mail.outbox.clear()
    assert campaign_reminders_send(actor=access_admin, today=today - timedelta(days=5)) == 0  # not yet in window
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_reminders_send(actor=access_admin, today=today) == 1
    assert [m.to for m in mail.outbox] == [[team_lead.email]]
    assert "1 access review items" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_reminders_send(actor=access_admin, today=today) == 0
    assert len(mail.outbox) == 1


def test_overdue_campaigns_escalate_to_access_admins_once(team_lead, approver, service, make_grant, open_campaign,
                                                          access_admin, django_capture_on_commit_callbacks):
    make_grant(approver, service, last_used_days=1)
    campaign = open_campaign(due_date=timezone.localdate() + timedelta(days=3))
    mail.outbox.clear()
    assert campaign_escalate_overdue(actor=access_admin, today=campaign.due_date) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_escalate_overdue(actor=access_admin, today=campaign.due_date + timedelta(days=1)) == 1
    assert [m.to for m in mail.outbox] == [[access_admin.email]]
    assert "lena: 1 open" in mail.outbox[0].body
    assert campaign_escalate_overdue(actor=access_admin, today=campaign.due_date + timedelta(days=2)) == 0
    assert AuditEvent.objects.filter(action="access_review.escalated").count() == 1
