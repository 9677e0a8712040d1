"""The monthly schedule's runs (ReportJob): the only code that writes them. Each move is one
transaction with its history row (governed_history, the acting task) and one audit event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.services import audit_event_record

from .models import ReportJob


def report_job_start(*, period: str, actor) -> ReportJob:
    """The schedule starts (or a worker picks up again) the month's run. A run that finished or
    failed and is started again begins a new series of attempts."""
    resolved = resolve_actor(actor)
    with transaction.atomic():
        job, created = ReportJob.objects.select_for_update().get_or_create(period=period)
        if not created:
            if job.status != ReportJob.Status.RUNNING:
                job.attempts = 1
                job.error = ""
            job.status = ReportJob.Status.RUNNING
            job.started_at = timezone.now()
            job.finished_at = None
            job._history_user = resolved.user
            job.save()
        audit_event_record(action="report_job.started", target=job, actor=resolved,
                           details={"period": period, "attempt": job.attempts})
    return job


def report_job_finish(*, job: ReportJob, actor, runs: int) -> None:
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = ReportJob.objects.select_for_update().get(pk=job.pk)
        locked.status = ReportJob.Status.DONE
        locked.finished_at = timezone.now()
        locked.error = ""
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action="report_job.finished", target=locked, actor=resolved,
                           details={"period": locked.period, "runs": runs})


def report_job_fail(*, job: ReportJob, actor, reason: str) -> None:
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = ReportJob.objects.select_for_update().get(pk=job.pk)
        locked.status = ReportJob.Status.FAILED
        locked.finished_at = timezone.now()
        locked.error = reason[:300]
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action="report_job.failed", target=locked, actor=resolved,
                           details={"period": locked.period, "error": locked.error, "attempts": locked.attempts})
