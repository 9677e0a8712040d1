"""Monthly report runs whose worker died are not left "running" forever.

generate_monthly_reports is acknowledged late and rejected when its worker is lost, so a killed
child process gets it redelivered; a node that vanished only gets it back after the broker's
visibility timeout (an hour). This beat job closes that gap, as apps.audit.reaper does for
evidence packs: a run still "running" STUCK_WORK_TIMEOUT_MINUTES after it started is dispatched
again (the task is idempotent: reports already made are found by their key, the email is sent
once) up to RUN_ATTEMPTS attempts, then failed with the reason; both show on the reports page."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.reaper import locked_stuck_rows, stuck_timeout
from apps.audit.services import audit_event_record

from .models import ReportJob

RUN_ATTEMPTS = 3
RETRY_REASON = ("Worker lost: the worker generating these reports stopped before finishing (restarted or lost); "
                "retrying (attempt {attempt} of {limit}).")
FAILED_REASON = ("Failed: worker lost. The worker stopped before finishing {limit} times; reports not listed "
                 "below were not made. Generate them here, or ask the operators to check the workers.")


def report_jobs_reap(*, actor) -> dict[str, int]:
    from .tasks import generate_monthly_reports

    resolved = resolve_actor(actor)
    now = timezone.now()
    cutoff = now - stuck_timeout()
    retried = failed = 0
    for locked in locked_stuck_rows(ReportJob.objects.filter(status=ReportJob.Status.RUNNING, started_at__lt=cutoff)):
        locked._history_user = resolved.user
        if locked.attempts < RUN_ATTEMPTS:
            locked.attempts += 1
            locked.started_at = now
            locked.error = RETRY_REASON.format(attempt=locked.attempts, limit=RUN_ATTEMPTS)
            locked.save(update_fields=["attempts", "started_at", "error"])
            audit_event_record(action="report_job.retried", target=locked, actor=resolved,
                               details={"period": locked.period, "error": "worker lost", "attempt": locked.attempts})
            period = locked.period
            transaction.on_commit(lambda p=period: generate_monthly_reports.delay(p))
            retried += 1
        else:
            locked.status = ReportJob.Status.FAILED
            locked.finished_at = now
            locked.error = FAILED_REASON.format(limit=RUN_ATTEMPTS)
            locked.save(update_fields=["status", "finished_at", "error"])
            audit_event_record(action="report_job.failed", target=locked, actor=resolved,
                               details={"period": locked.period, "error": "worker lost", "attempts": locked.attempts})
            failed += 1
    return {"retried": retried, "failed": failed}
