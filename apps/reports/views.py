from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.releases.off_cadence import off_cadence_changes
from releaseportal.dbrouter import replica_reads
from releaseportal.errors import PortalError

from . import presentation
from .charts import CHARTS, all_charts
from .models import ReportJob, ReportRun
from .periods import Month, report_timezone, trailing_months
from .permissions import (
    can_generate_reports,
    report_access,
    reports_viewer_required,
    require_scope,
    visible_runs,
)
from .rollbacks import automatic_rollbacks
from .scopes import ORGANISATION, resolve_scope
from .snapshots import cached_report

COLUMNS = [("deployments", "Deployments"), ("days", "Days / week"), ("lead", "Lead time"),
           ("cfr", "Change failure rate"), ("recovery", "Recovery time"), ("rework", "Rework rate")]


def _month(request) -> tuple[Month, str | None]:
    default = Month.containing(timezone.now(), report_timezone()).previous()
    value = request.GET.get("month")
    if not value:
        return default, None
    try:
        return Month.parse(value), None
    except PortalError as exc:
        return default, exc.message


def _scope_choices(user) -> list[dict]:
    """The scopes the page's selector offers: the organisation and every team, or a lead's teams."""
    from apps.accounts.models import Team

    access = report_access(user)
    teams = Team.objects.order_by("name")
    if not access.organisation:
        teams = teams.filter(pk__in=access.team_ids)
    return list(teams.values("slug", "name"))


@replica_reads()  # figures, runs and charts only show data: the read replica may serve them
def _page(request, scope, *, scope_param: str = ""):
    require_scope(request.user, scope)
    month, error = _month(request)
    if error:
        messages.error(request, error)
    sort = request.GET.get("sort", "name")
    sort = sort if sort in presentation.SORTABLE else "name"
    descending = request.GET.get("dir") == "desc"
    # Closed months come from their snapshots, the open month is computed live (snapshots.py).
    report = cached_report(month, scope)
    if report.teams is not None:
        rows, names_label = presentation.breakdown_rows(report.teams, report.team_names, sort=sort,
                                                        descending=descending), "Team"
    else:
        rows, names_label = presentation.breakdown_rows(report.services, report.service_names, sort=sort,
                                                        descending=descending), "Service"
    charts = all_charts(report.trend)
    latest_run = visible_runs(request.user, ReportRun.objects.filter(period=month.label, scope_key=scope.key)).order_by(
        "-version").first() if scope.level != "service" else None
    context = {
        "report": report, "month": month, "summary": report.summary(), "scope": scope,
        "cards": presentation.key_cards(report),
        "rework": presentation.key_cards(report, keys=("rework_rate",))[0],
        "charts": [{"key": k, "title": CHARTS[k], "svg": charts[k]} for k in CHARTS],
        "rows": rows, "row_kind": names_label.lower(), "columns": [("name", names_label), *COLUMNS], "sort": sort,
        "descending": descending, "scope_param": scope_param,
        "months": list(reversed(trailing_months(Month.containing(timezone.now(), report_timezone()), 24))),
        "scope_choices": _scope_choices(request.user),
        "organisation_reader": report_access(request.user).organisation,
        "quality": report.quality(),
        "can_generate": can_generate_reports(request.user),
        "latest_run": latest_run,
        "auto_rollbacks": automatic_rollbacks(month, scope),
        # Issue #15: the month's production changes that ran off their release train's cadence.
        "off_cadence": off_cadence_changes(start=month.start(report_timezone()), end=month.end(report_timezone()),
                                           service_ids=scope.service_ids()),
    }
    if request.headers.get("HX-Request"):
        return render(request, "reports/_figures.html", {**context, "partial": True})
    return render(request, "reports/dashboard.html", context)


@reports_viewer_required
def dashboard(request):
    """The organisation, or with ?team=<slug> one team (the selector's target). A team lead
    who names no team sees the first team they lead."""
    access = report_access(request.user)
    slug = request.GET.get("team") or ("" if access.organisation else access.team_slugs[0])
    if not slug:
        return _page(request, ORGANISATION)
    try:
        scope = resolve_scope(team=slug)
    except PortalError as exc:
        raise Http404("No such team") from exc
    return _page(request, scope, scope_param=slug)


@reports_viewer_required
def team_detail(request, slug: str):
    try:
        scope = resolve_scope(team=slug)
    except PortalError as exc:
        raise Http404("No such team") from exc
    return _page(request, scope)


@reports_viewer_required
def service_detail(request, slug: str):
    try:
        scope = resolve_scope(service=slug)
    except PortalError as exc:
        raise Http404("No such service") from exc
    return _page(request, scope)


@reports_viewer_required
def run_list(request):
    from apps.accounts.models import Team

    runs = visible_runs(request.user, ReportRun.objects.select_related("generated_by")).order_by(
        "-period", "scope_key", "-version")[:200]
    return render(request, "reports/run_list.html", {
        "runs": runs, "can_generate": can_generate_reports(request.user),
        # The monthly schedule's latest runs: running, done, or failed with the reason (reaper.py).
        "jobs": list(ReportJob.objects.order_by("-period")[:3]),
        "teams": Team.objects.order_by("name").values("slug", "name"),
        "default_month": Month.containing(timezone.now(), report_timezone()).previous().label,
    })


@require_POST
@reports_viewer_required
def run_generate(request):
    from .services import report_run_generate

    if not can_generate_reports(request.user):
        raise PermissionDenied("Only executives and release managers generate reports.")
    try:
        month = Month.parse(request.POST.get("month"))
        scope = resolve_scope(team=request.POST.get("team") or None)
        run = report_run_generate(month=month, scope=scope, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("reports:runs")
    messages.success(request, f"Generated {run} (SHA-256 {run.pdf_sha256[:12]}…).")
    return redirect("reports:runs")


def _download(run: ReportRun, which: str) -> FileResponse:
    field, suffix, ctype = (run.pdf, ".pdf", "application/pdf") if which == "pdf" else (
        run.csv_zip, "-data.zip", "application/zip")
    response = FileResponse(field.open("rb"), as_attachment=True, filename=run.file_stem + suffix, content_type=ctype)
    response["X-Content-SHA256"] = run.pdf_sha256 if which == "pdf" else run.csv_sha256
    return response


@reports_viewer_required
def run_pdf(request, pk: int):
    return _download(get_object_or_404(visible_runs(request.user, ReportRun.objects.all()), pk=pk), "pdf")


@reports_viewer_required
def run_data(request, pk: int):
    return _download(get_object_or_404(visible_runs(request.user, ReportRun.objects.all()), pk=pk), "csv")
