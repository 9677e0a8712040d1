"""Celery beat: the monthly report at 06:00 on the 1st in the report timezone, which may differ
from the server's (CELERY_TIMEZONE): the crontab below evaluates in REPORT_TIMEZONE."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from celery.schedules import crontab


def _report_tz() -> ZoneInfo:
    from django.conf import settings

    return ZoneInfo(settings.REPORT_TIMEZONE)


def report_now() -> datetime:
    from django.utils import timezone

    # timezone.now, the one clock of the portal (and the one tests pin).
    return timezone.now().astimezone(_report_tz())


class report_crontab(crontab):  # noqa: N801 — named like celery's own schedule classes
    """A crontab whose hours are wall-clock hours of the report timezone."""

    @property
    def tz(self) -> ZoneInfo:
        return _report_tz()


BEAT = {
    "reports-monthly-dora": {
        "task": "apps.reports.tasks.generate_monthly_reports",
        "schedule": report_crontab(minute=0, hour=6, day_of_month=1, nowfun=report_now),
        "options": {"expires": 20 * 3600},
    },
    # A monthly run whose worker died is dispatched again or failed with a reason within minutes
    # (apps.reports.reaper).
    "reports-reap-stuck-runs": {"task": "apps.reports.tasks.reap_stuck_report_jobs", "schedule": crontab(minute="*/5"),
                                "options": {"expires": 280}},
    # Keeps the closed months' metric snapshots filled (snapshots.py): after late data dropped
    # some, the next page view would otherwise pay for the recomputation.
    "reports-metric-snapshots": {
        "task": "apps.reports.tasks.fill_metric_snapshots",
        "schedule": crontab(minute=17),
        "options": {"expires": 3000},
    },
}
