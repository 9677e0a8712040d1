from __future__ import annotations

import json
import shutil

from django.core.management.base import BaseCommand, CommandError

from apps.audit.actor import Actor, acting_as
from releaseportal.errors import PortalError


class Command(BaseCommand):
    help = "Generate the monthly DORA and release report (stored as a new ReportRun version)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM in the report timezone")
        parser.add_argument("--team", help="team slug (default: the organisation)")
        parser.add_argument("--service", help="service slug")
        parser.add_argument("--out", help="also write the PDF to this file")
        parser.add_argument("--benchmark-year", type=int, default=None)

    def handle(self, *args, month, team, service, out, benchmark_year, **options):
        from apps.reports.models import ReportRun
        from apps.reports.periods import Month
        from apps.reports.scopes import resolve_scope
        from apps.reports.services import report_run_generate

        try:
            period = Month.parse(month)
            scope = resolve_scope(team=team, service=service)
        except PortalError as exc:
            raise CommandError(f"{exc.message} {json.dumps(exc.fields)}") from exc
        actor = Actor.for_command("dora_report")
        with acting_as(actor):
            run = report_run_generate(month=period, scope=scope, actor=actor, trigger=ReportRun.Trigger.COMMAND,
                                      benchmark_year=benchmark_year)
        if out:
            with run.pdf.open("rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        self.stdout.write(json.dumps(run.summary, indent=2))
        self.stdout.write(f"report run {run.pk}: {run} pdf sha256 {run.pdf_sha256}" + (f" -> {out}" if out else ""))
