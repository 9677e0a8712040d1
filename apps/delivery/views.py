"""Delivery pages: deployments, an artifact's evidence, the gate decision log, reconciliation,
and a service's environments side by side."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from apps.accounts.permissions import member_required
from apps.catalog.models import Environment, Service
from releaseportal.csvexport import csv_attachment
from releaseportal.extensions import collect_sections

from . import permissions, reconciliation, selectors
from .models import Deployment, GateDecision
from .presentation import artifact_overview


@member_required
def deployment_list(request):
    qs = selectors.deployments_list().order_by("-started_at", "-id")
    f = request.GET
    if f.get("service"):
        qs = qs.filter(service__slug=f["service"])
    if f.get("environment"):
        qs = qs.filter(environment__slug=f["environment"])
    if f.get("status"):
        qs = qs.filter(status=f["status"])
    if f.get("unauthorized") == "1":
        qs = qs.filter(is_unauthorized=True)
    page = Paginator(qs, 50).get_page(f.get("page"))
    return render(request, "delivery/deployment_list.html", {
        "page_obj": page, "filters": f, "services": Service.objects.order_by("name").only("slug", "name"),
        "environments": Environment.objects.order_by("order"), "statuses": Deployment.Status.choices,
        "can_reconcile": permissions.can_reconcile(request.user),
    })


@member_required
def deployment_detail(request, pk: int):
    deployment = permissions.get_deployment_for_user(request.user, pk)
    # Apps above delivery add sections (apps/<app>/deployment_sections.py), e.g. validation's
    # verdict, charts and canary analysis; delivery imports none of them.
    return render(request, "delivery/deployment_detail.html", {
        "deployment": deployment, "sections": collect_sections("deployment_sections", request, deployment),
    })


@member_required
def artifact_detail(request, pk: int):
    artifact = permissions.get_artifact_for_user(request.user, pk)
    deployments = list(artifact.deployments.select_related("environment", "change").order_by("-started_at")[:20])
    decisions = list(artifact.gate_decisions.select_related("environment", "change").order_by("-created_at")[:20])
    return render(request, "delivery/artifact_detail.html", {
        "artifact": artifact, "overview": artifact_overview(list(artifact.evidence.all())),
        "deployments": deployments, "decisions": decisions,
    })


@member_required
def gate_decision_list(request):
    qs = selectors.gate_decisions_list().order_by("-created_at", "-id")
    f = request.GET
    if f.get("decision") in ("allow", "deny"):
        qs = qs.filter(decision=f["decision"])
    if f.get("service"):
        qs = qs.filter(service__slug=f["service"])
    if f.get("environment"):
        qs = qs.filter(environment__slug=f["environment"])
    if f.get("reason"):
        qs = qs.filter(reasons__icontains=f'"{f["reason"]}"')
    page = Paginator(qs, 50).get_page(f.get("page"))
    from .gate import all_reason_codes

    return render(request, "delivery/gate_decision_list.html", {
        "page_obj": page, "filters": f, "reason_codes": all_reason_codes(),
        "services": Service.objects.order_by("name").only("slug", "name"),
        "environments": Environment.objects.order_by("order"), "decisions": GateDecision.Decision.choices,
    })


def _month(value: str | None) -> tuple[datetime, datetime, str]:
    now = timezone.now()
    try:
        year, month = (int(p) for p in (value or "").split("-", 1))
        start = datetime(year, month, 1, tzinfo=UTC)
    except ValueError:
        start = datetime(now.year, now.month, 1, tzinfo=UTC)
    days = calendar.monthrange(start.year, start.month)[1]
    end = start.replace(day=days) + timezone.timedelta(days=1)
    return start, end, f"{start:%Y-%m}"


@member_required
def reconciliation_view(request):
    if not permissions.can_reconcile(request.user):
        raise PermissionDenied("Reconciliation is for auditors, release managers and executives.")
    start, end, label = _month(request.GET.get("month"))
    rows = reconciliation.reconcile(start=start, end=end)
    if request.GET.get("format") == "csv":
        return csv_attachment(f"production-reconciliation-{label}.csv", reconciliation.CSV_HEADER,
                              reconciliation.csv_rows(rows))
    exceptions = sum(1 for r in rows if r.exceptions)
    return render(request, "delivery/reconciliation.html", {
        "rows": rows, "month": label, "month_day": start.date(), "total": len(rows), "exceptions": exceptions,
        "labels": reconciliation.EXCEPTION_LABELS,
    })


@member_required
def shared_resource_list(request):
    """Who holds what: every shared resource, the deployment holding it, the services using it."""
    if not permissions.can_see_delivery(request.user):
        raise Http404("No such page.")
    return render(request, "delivery/shared_resources.html", {"resources": selectors.shared_resources_list()})


@member_required
def service_environments(request, slug: str):
    service = Service.objects.select_related("owner_team").filter(slug=slug).first()
    if service is None:
        raise Http404("No such service.")
    environments = list(Environment.objects.order_by("order"))
    recent = list(selectors.deployments_list().filter(service=service).order_by("-started_at", "-id")[:25])
    return render(request, "delivery/service_environments.html", {
        "service": service, "data_envs": {"columns": selectors.environment_status(service, environments)}, "recent": recent,
    })
