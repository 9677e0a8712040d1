"""Celery beat: the monthly report at 06:00 on the 1st, in the report timezone (not the
server's): crontab evaluates against `report_now`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from celery.schedules import crontab


def report_now() -> datetime:
    from django.conf import settings

    return datetime.now(ZoneInfo(settings.REPORT_TIMEZONE))


BEAT = {
    "reports-monthly-dora": {
        "task": "apps.reports.tasks.generate_monthly_reports",
        "schedule": crontab(minute=0, hour=6, day_of_month=1, nowfun=report_now),
        "options": {"expires": 20 * 3600},
    },
}
