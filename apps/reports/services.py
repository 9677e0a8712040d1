"""Generating and delivering reports: the only code that writes ReportRun rows."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.services import audit_event_record
from releaseportal.dbrouter import replica_reads

from .governance import compute_governance
from .metrics import compute_report
from .models import ReportDelivery, ReportRun
from .pdf import render_report
from .periods import Month
from .scopes import Scope


def _store(path: str, data: bytes) -> str:
    return default_storage.save(path, ContentFile(data))


def report_run_generate(*, month: Month, scope: Scope, actor, trigger: str = ReportRun.Trigger.MANUAL,
                        idempotency_key: str | None = None, benchmark_year: int | None = None) -> ReportRun:
    """Compute, render and store a new version of the month's report for the scope.

    With an idempotency key (the schedule's "schedule:<period>:<scope>") a second call returns
    the run the first one made, so a retried task neither duplicates nor re-sends anything."""
    if idempotency_key:
        existing = ReportRun.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    who = resolve_actor(actor)
    generated_at = timezone.now()
    started = time.perf_counter()
    latest = ReportRun.objects.filter(scope_key=scope.key, period=month.label).aggregate(v=Max("version"))["v"] or 0
    version = latest + 1
    # The figures may come from the read replica once it has replayed everything written before
    # generated_at (so "data as of" holds); otherwise from the primary.
    with replica_reads(caught_up=True):
        report = compute_report(month, scope, as_of=generated_at, benchmark_year=benchmark_year)
        governance = compute_governance(report.prep, month, service_ids=scope.service_ids(), as_of=generated_at)
        rendered = render_report(report, governance, generated_by=who.label, generated_at=generated_at,
                                 version=version)
    seconds = time.perf_counter() - started
    params = {"period": month.label, "timezone": report.tz_name, "scope": scope.as_dict(),
              "benchmark_year": report.bench.year, "generated_at": generated_at.isoformat(),
              "generated_by": who.label, "data_as_of": generated_at.isoformat(), "trend_months": len(report.months),
              "trigger": str(trigger)}
    for _attempt in range(3):
        stem = f"dora-{month.label}-{scope.slug or 'organisation'}-v{version}"
        folder = f"reports/{month.label}/{scope.key.replace(':', '-')}"
        pdf_name = _store(f"{folder}/{stem}.pdf", rendered.pdf)
        zip_name = _store(f"{folder}/{stem}-data.zip", rendered.csv_zip)
        try:
            with transaction.atomic():
                run = ReportRun.objects.create(
                    period=month.label, scope_type=scope.level, scope_slug=scope.slug, scope_key=scope.key,
                    scope_name=scope.name, version=version, trigger=trigger, idempotency_key=idempotency_key,
                    parameters=params, summary=report.summary(), pdf=pdf_name, csv_zip=zip_name,
                    pdf_sha256=hashlib.sha256(rendered.pdf).hexdigest(),
                    csv_sha256=hashlib.sha256(rendered.csv_zip).hexdigest(),
                    generated_by=who.user, generated_by_label=who.label[:150], generated_at=generated_at,
                    data_as_of=generated_at, render_seconds=round(seconds, 3),
                )
                audit_event_record(action="report.generated", target=run, actor=who, details={
                    "period": month.label, "scope": scope.key, "version": version, "trigger": str(trigger),
                    "pdf_sha256": run.pdf_sha256, "csv_sha256": run.csv_sha256})
            return run
        except IntegrityError:
            default_storage.delete(pdf_name)
            default_storage.delete(zip_name)
            if idempotency_key:
                existing = ReportRun.objects.filter(idempotency_key=idempotency_key).first()
                if existing is not None:
                    return existing
            version = (ReportRun.objects.filter(scope_key=scope.key, period=month.label)
                       .aggregate(v=Max("version"))["v"] or 0) + 1
    raise IntegrityError("Could not allocate a report version; try again.")


def executive_recipients() -> list[str]:
    from apps.accounts.models import User

    return sorted(set(User.objects.filter(groups__name="executive", is_active=True).exclude(email="")
                      .values_list("email", flat=True)))


def report_run_email(*, run: ReportRun, team_runs: list[ReportRun] = (), actor) -> ReportDelivery | None:
    """Email the report (PDF and data attached) to the executives, once per run."""
    if ReportDelivery.objects.filter(run=run).exists():
        return None
    recipients = executive_recipients()
    if not recipients:
        return None
    lines = [f"The DORA and release report for {run.scope_name or 'the organisation'}, {run.period}, is attached",
             "with its data appendix (CSV). Headline figures:", ""]
    summary = run.summary
    lines += [
        f"- Deployments: {summary['deployment_frequency']['count']} "
        f"(tier {summary['deployment_frequency']['tier'] or 'n/a'})",
        f"- Lead time tier: {summary['lead_time']['tier'] or 'n/a'}",
        f"- Change failure rate tier: {summary['change_failure_rate']['tier'] or 'n/a'}",
        f"- Recovery time tier: {summary['recovery_time']['tier'] or 'n/a'}", "",
        f"PDF SHA-256: {run.pdf_sha256}",
    ]
    if team_runs:
        lines += ["", "Team reports are in the portal:"] + [
            f"- {t.scope_name}: {settings.SITE_URL}/reports/runs/{t.pk}/pdf/" for t in team_runs]
    message = EmailMessage(subject=f"DORA and release report {run.period}: {run.scope_name or 'organisation'}",
                           body="\n".join(lines), to=recipients)
    with run.pdf.open("rb") as fh:
        message.attach(f"{run.file_stem}.pdf", fh.read(), "application/pdf")
    with run.csv_zip.open("rb") as fh:
        message.attach(f"{run.file_stem}-data.zip", fh.read(), "application/zip")
    with transaction.atomic():
        delivery, created = ReportDelivery.objects.get_or_create(run=run, defaults={"recipients": recipients})
        if not created:
            return None
        audit_event_record(action="report.emailed", target=run, actor=actor,
                           details={"recipients": len(recipients), "period": run.period, "scope": run.scope_key})
        # Sent inside the transaction on purpose: if sending fails the delivery row rolls back
        # and a retry sends again (at least once, never silently lost).
        message.send()
    return delivery
