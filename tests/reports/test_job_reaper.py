"""A monthly report run whose worker died is not left "running" forever (issue #17): the reaper
dispatches it again, up to three attempts, then fails it with the reason; the reports page shows
each state. A run within its time is left alone; a run that finishes reads "done"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.audit.models import AuditEvent
from apps.reports import tasks
from apps.reports.models import ReportJob
from apps.reports.reaper import RUN_ATTEMPTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> str:
    return "2026-06-01 06:00"


def _runs_page(client, django_assert_max_num_queries) -> str:
    with django_assert_max_num_queries(12):
        response = client.get("/reports/runs/")
    assert response.status_code == 200
    return response.content.decode()


def _row(body: str, period: str) -> str:
    start = body.index(f'id="schedule-run-{period}"')
    return body[start:body.index("</tr>", start)]


def test_a_run_whose_worker_died_is_retried_then_failed_with_a_reason_on_the_page(
        client, clock, settings, monkeypatch, executive, django_capture_on_commit_callbacks,
        django_assert_max_num_queries):
    settings.STUCK_WORK_TIMEOUT_MINUTES = 15

    def worker_dies(**kwargs):
        raise RuntimeError("worker killed")

    # The run starts and its worker dies half-way: the run is left "running".
    monkeypatch.setattr("apps.reports.services.report_run_generate", worker_dies)
    with pytest.raises(RuntimeError):
        tasks.generate_monthly_reports.run("2026-05")
    job = ReportJob.objects.get(period="2026-05")
    assert job.status == "running" and job.attempts == 1 and job.error == ""
    dispatched = []
    monkeypatch.setattr(tasks.generate_monthly_reports, "delay", dispatched.append)

    def reap(at):
        clock(at)
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.reap_stuck_report_jobs.delay().get()

    assert reap("2026-06-01 06:10") == {"retried": 0, "failed": 0}  # still within its time
    assert reap("2026-06-01 06:20") == {"retried": 1, "failed": 0}
    job.refresh_from_db()
    assert dispatched == ["2026-05"] and job.status == "running" and job.attempts == 2
    assert job.history.first().error == job.error and job.history.first().attempts == 2
    retried = AuditEvent.objects.get(action="report_job.retried")
    assert retried.details == {"period": "2026-05", "error": "worker lost", "attempt": 2}
    client.force_login(executive)
    row = _row(_runs_page(client, django_assert_max_num_queries), "2026-05")
    assert ">retrying<" in row and "Worker lost" in row and f"attempt 2 of {RUN_ATTEMPTS}" in row

    assert reap("2026-06-01 06:40") == {"retried": 1, "failed": 0}
    assert reap("2026-06-01 07:00") == {"retried": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and job.error.startswith("Failed: worker lost") and dispatched == ["2026-05"] * 2
    assert AuditEvent.objects.get(action="report_job.failed").details == {
        "period": "2026-05", "error": "worker lost", "attempts": RUN_ATTEMPTS}
    row = _row(_runs_page(client, django_assert_max_num_queries), "2026-05")
    assert ">failed<" in row and "Failed: worker lost" in row
    assert reap("2026-06-01 08:00") == {"retried": 0, "failed": 0}  # a failed run is not the reaper's

    # Run again (by hand or by the schedule), it finishes: "done", a new series of attempts.
    made = iter(range(100, 200))
    monkeypatch.setattr("apps.reports.services.report_run_generate", lambda **kw: SimpleNamespace(pk=next(made)))
    monkeypatch.setattr("apps.reports.services.report_run_email", lambda **kw: None)
    assert tasks.generate_monthly_reports.run("2026-05")[0] == 100
    job.refresh_from_db()
    assert job.status == "done" and job.error == "" and job.attempts == 1 and job.finished_at
    row = _row(_runs_page(client, django_assert_max_num_queries), "2026-05")
    assert ">done<" in row and "worker lost" not in row.lower()


def test_the_last_retry_fails_the_run_with_its_error(monkeypatch):
    monkeypatch.setattr("apps.reports.services.report_run_generate",
                        lambda **kw: (_ for _ in ()).throw(ConnectionError("storage unreachable")))
    monkeypatch.setattr(tasks.generate_monthly_reports, "max_retries", 0)
    with pytest.raises(ConnectionError):
        tasks.generate_monthly_reports.run("2026-05")
    job = ReportJob.objects.get(period="2026-05")
    assert job.status == "failed" and job.error == "Failed after 1 tries: ConnectionError: storage unreachable"


def test_the_run_reaper_is_on_the_beat_schedule_and_the_task_survives_a_lost_worker():
    from releaseportal.celery import collect_beat_schedule

    assert any(entry["task"] == "apps.reports.tasks.reap_stuck_report_jobs"
               for entry in collect_beat_schedule().values())
    assert tasks.generate_monthly_reports.acks_late and tasks.generate_monthly_reports.reject_on_worker_lost
