"""The monthly schedule: when it runs, and that running it twice changes nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from celery.utils.time import ffwd
from django.core import mail

from apps.reports.models import ReportDelivery, ReportRun

pytestmark = pytest.mark.django_db


def test_beat_runs_on_the_first_at_six_in_the_report_timezone(settings):
    from releaseportal.celery import collect_beat_schedule

    settings.REPORT_TIMEZONE = "America/New_York"
    entry = collect_beat_schedule()["reports-monthly-dora"]
    assert entry["task"] == "apps.reports.tasks.generate_monthly_reports"
    schedule = entry["schedule"]
    assert (schedule.minute, schedule.hour, schedule.day_of_month) == ({0}, {6}, {1})
    assert schedule.now().tzinfo == ZoneInfo("America/New_York")
    # Beat stamps runs with schedule.now(), so the next run is 06:00 New York time on the 1st:
    # 10:00 UTC in summer (EDT), 11:00 UTC in winter (EST).
    for last, expected_utc in ((datetime(2026, 8, 1, 6, 0), datetime(2026, 9, 1, 10, 0)),
                               (datetime(2026, 11, 1, 6, 0), datetime(2026, 12, 1, 11, 0))):
        start, delta, _now = schedule.remaining_delta(last.replace(tzinfo=ZoneInfo("America/New_York")),
                                                      ffwd=ffwd)
        assert (start + delta).astimezone(ZoneInfo("UTC")) == expected_utc.replace(tzinfo=ZoneInfo("UTC"))


def test_the_task_is_registered():
    from releaseportal.celery import app

    app.loader.import_default_modules()
    assert "apps.reports.tasks.generate_monthly_reports" in app.tasks


def test_the_monthly_task_is_idempotent_and_emails_the_executives_once(october, executive):
    from apps.reports.tasks import generate_monthly_reports

    first = generate_monthly_reports.delay("2026-10").get()
    again = generate_monthly_reports.delay("2026-10").get()
    assert first == again
    runs = ReportRun.objects.order_by("scope_key")
    assert [r.scope_key for r in runs] == ["organisation", "team:identity", "team:payments"]
    assert {r.trigger for r in runs} == {"schedule"}
    assert {r.idempotency_key for r in runs} == {"schedule:2026-10:organisation", "schedule:2026-10:team:identity",
                                                 "schedule:2026-10:team:payments"}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [executive.email]
    assert "2026-10" in message.subject
    assert [name for name, *_ in message.attachments] == ["dora-2026-10-organisation-v1.pdf",
                                                          "dora-2026-10-organisation-v1-data.zip"]
    assert ReportDelivery.objects.count() == 1


def test_a_retry_after_a_failed_email_sends_it_and_makes_no_new_reports(october, executive, monkeypatch):
    from django.core.mail import EmailMessage

    from apps.reports.tasks import generate_monthly_reports

    calls = {"n": 0}
    original = EmailMessage.send

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("mail server down")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", flaky)
    with pytest.raises(ConnectionError):
        generate_monthly_reports.run("2026-10")
    assert ReportRun.objects.count() == 3 and not ReportDelivery.objects.exists()
    generate_monthly_reports.run("2026-10")
    assert ReportRun.objects.count() == 3
    assert ReportDelivery.objects.count() == 1 and len(mail.outbox) == 1
