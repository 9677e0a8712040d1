from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.audit.actor import Actor, acting_as


def previous_month():
    from .periods import Month, report_timezone

    return Month.containing(timezone.now(), report_timezone()).previous()


# A worker killed mid-run gets the message redelivered (acks_late, reject_on_worker_lost); the
# run's state is a ReportJob the reports page shows, and reap_stuck_report_jobs dispatches a run
# whose worker vanished again, or fails it with the reason.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=(Exception,), retry_backoff=60,
             max_retries=5)
def generate_monthly_reports(self, month: str | None = None) -> list[int]:
    """The 1st of the month: last month's organisation report and each team's, emailed to the
    executives. Idempotent: each run is keyed by period and scope, the email by its run."""
    from apps.accounts.models import Team

    from .jobs import report_job_fail, report_job_finish, report_job_start
    from .models import ReportRun
    from .periods import Month
    from .scopes import ORGANISATION, Scope
    from .services import report_run_email, report_run_generate

    target = Month.parse(month) if month else previous_month()
    actor = Actor.for_task("reports.generate_monthly_reports")
    with acting_as(actor):
        job = report_job_start(period=target.label, actor=actor)
        try:
            org = report_run_generate(month=target, scope=ORGANISATION, actor=actor,
                                      trigger=ReportRun.Trigger.SCHEDULE,
                                      idempotency_key=f"schedule:{target.label}:organisation")
            team_runs = []
            for pk, slug, name in Team.objects.order_by("slug").values_list("pk", "slug", "name"):
                scope = Scope("team", slug, name, pk)
                team_runs.append(report_run_generate(month=target, scope=scope, actor=actor,
                                                     trigger=ReportRun.Trigger.SCHEDULE,
                                                     idempotency_key=f"schedule:{target.label}:{scope.key}"))
            report_run_email(run=org, team_runs=team_runs, actor=actor)
        except Exception as exc:
            if self.request.retries >= self.max_retries:  # the last try: no retry will follow
                report_job_fail(job=job, actor=actor,
                                reason=f"Failed after {self.request.retries + 1} tries: {type(exc).__name__}: {exc}")
            raise
        report_job_finish(job=job, actor=actor, runs=1 + len(team_runs))
    return [org.pk] + [r.pk for r in team_runs]


@shared_task(acks_late=True)
def reap_stuck_report_jobs() -> dict[str, int]:
    """Every five minutes: monthly runs whose worker died are dispatched again, or failed with
    the reason after their last attempt (apps.reports.reaper)."""
    from .reaper import report_jobs_reap

    with acting_as(Actor.for_task("reports.reap_stuck_report_jobs")) as actor:
        return report_jobs_reap(actor=actor)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=60, max_retries=3)
def fill_metric_snapshots(months: int = 13) -> int:
    """Every hour: drop the snapshots late data has changed and compute the closed months that
    have none, so pages and the API read them instead of recomputing. Idempotent: a month that
    has its snapshot is not computed again. Returns how many months it stored."""
    from .snapshots import fill

    return fill(months=months)
