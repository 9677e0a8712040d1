"""Demo reports: the metric snapshots of the closed months, and last month's organisation report
(PDF and data appendix) as the monthly schedule would have made it on the 1st, so an executive
opening the demo finds a report to download (issue #16) and the first dashboard load reads
snapshots instead of computing a year of history.

Idempotent: fill() computes only the months without a snapshot, and the report run carries the
schedule's idempotency key ("schedule:<period>:organisation"), so a second seed returns the first
run and the real schedule, were it to run for that month, would too."""

from __future__ import annotations

import time

from apps.audit.actor import Actor, acting_as

from .models import ReportRun
from .periods import Month, report_timezone
from .scopes import ORGANISATION
from .services import report_run_generate
from .snapshots import fill


def last_month_report() -> ReportRun:
    """Last month's organisation report, made as the schedule makes it (tasks.generate_monthly_reports)."""
    from django.utils import timezone

    month = Month.containing(timezone.now(), report_timezone()).previous()
    actor = Actor.for_task("reports.generate_monthly_reports")
    with acting_as(actor):
        return report_run_generate(month=month, scope=ORGANISATION, actor=actor, trigger=ReportRun.Trigger.SCHEDULE,
                                   idempotency_key=f"schedule:{month.label}:organisation")


def seed(ctx) -> None:
    started = time.perf_counter()
    stored = fill(months=13)
    ctx.say(f"reports: {stored} closed months of metric snapshots computed ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    run = last_month_report()
    ctx.say(f"reports: {run} ready, PDF SHA-256 {run.pdf_sha256[:12]} ({time.perf_counter() - started:.1f} s)")
