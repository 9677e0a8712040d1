"""Configuration pages: baselines per service × environment (versions and a side-by-side diff),
the organisation's drift list, a finding with its resolve forms, and the browser route that
resolves it through the same service and guards as the API (config_services.drift_resolve).

Every page costs a fixed number of queries whatever the data size. Secret values are never
shown: baseline secrets are references, masked here too (the scheme stays, so a reader sees
*where* the secret lives, not its path); observed secrets are stored as fingerprints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.permissions import member_required
from apps.catalog.models import Environment
from apps.catalog.permissions import get_service_for_user
from apps.changes.models import ChangeRequest
from releaseportal.errors import PortalError
from releaseportal.input import parse_id

from . import config_selectors as selectors
from .config_permissions import can_resolve_drift, findings_visible_to, get_finding_for_user
from .config_presentation import findings_rows, shown_entry, shown_finding_value
from .config_services import drift_resolve
from .models.config import ConfigBaseline, DriftFinding

PAGE_SIZE = 50
MAX_VERSIONS = 100
MAX_CANDIDATES = 20


def _version_arg(request, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


# --- baselines ----------------------------------------------------------------------------------

@member_required
def baseline_index(request):
    """Every service with a baseline, its approved version per environment; paginated by service."""
    environments = list(Environment.objects.order_by("order"))
    search = (request.GET.get("q") or "").strip()
    pairs = ConfigBaseline.objects.filter(status__in=[ConfigBaseline.Status.APPROVED, ConfigBaseline.Status.PROPOSED])
    if search:
        pairs = pairs.filter(service__slug__icontains=search)
    service_ids = pairs.order_by("service__slug").values_list("service_id", "service__slug").distinct()
    page = Paginator(service_ids, PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [pk for pk, _slug in page.object_list]
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for baseline in (pairs.filter(service_id__in=ids).select_related("service")
                     .only("service__slug", "service__name", "environment_id", "version", "status")):
        cell = cells.setdefault((baseline.service_id, baseline.environment_id), {})
        cell[baseline.status] = baseline.version
        cell["service"] = baseline.service
    open_counts: dict[tuple[int, int], int] = {}
    for service_id, environment_id in (DriftFinding.objects.filter(status=DriftFinding.Status.OPEN, service_id__in=ids)
                                       .values_list("service_id", "environment_id")):
        open_counts[(service_id, environment_id)] = open_counts.get((service_id, environment_id), 0) + 1
    rows = []
    for service_id, slug in page.object_list:
        columns = []
        service = None
        for env in environments:
            cell = cells.get((service_id, env.pk), {})
            service = service or cell.get("service")
            columns.append({"environment": env, "approved": cell.get("approved"), "proposed": cell.get("proposed"),
                            "open": open_counts.get((service_id, env.pk), 0)})
        rows.append({"slug": slug, "service": service, "columns": columns})
    return render(request, "environments/config/baseline_index.html", {
        "page_obj": page, "rows": rows, "environments": environments, "q": search,
        "querystring_without_page": urlencode({"q": search}) + "&" if search else "",
    })


@member_required
def baseline_detail(request, service: str, env: str):
    """The versions of one service × environment and two of them side by side (?old=&new=)."""
    service_obj = get_service_for_user(request.user, service)
    environment = get_object_or_404(Environment, slug=env)
    versions = list(selectors.baseline_versions(service=service_obj, environment=environment)[:MAX_VERSIONS])
    by_number = {b.version: b for b in versions}
    approved = next((b for b in versions if b.status == ConfigBaseline.Status.APPROVED), None)
    wanted_new, wanted_old = _version_arg(request, "new"), _version_arg(request, "old")
    for wanted in (wanted_new, wanted_old):
        if wanted is not None and wanted not in by_number:
            messages.warning(request, f"There is no version {wanted}; showing the default instead.")
    new = by_number.get(wanted_new) or approved or (versions[0] if versions else None)
    old = by_number.get(wanted_old)
    if old is None and new is not None:
        old = next((b for b in versions if b.version < new.version), None)
    rows = []
    if new is not None:
        for row in selectors.baseline_diff(old, new):
            rows.append({"key": row["key"], "change": row["change"], "old": shown_entry(row["old"]),
                         "new": shown_entry(row["new"])})
    counts = {kind: sum(1 for r in rows if r["change"] == kind) for kind in ("added", "removed", "changed", "same")}
    findings = findings_rows(selectors.open_findings(service=service_obj, environment=environment)[:50])
    return render(request, "environments/config/baseline_detail.html", {
        "service": service_obj, "environment": environment, "versions": versions, "approved": approved,
        "old": old, "new": new, "rows": rows, "counts": counts, "findings": findings,
        "environments": Environment.objects.order_by("order"),
    })


# --- drift --------------------------------------------------------------------------------------

@member_required
def drift_list(request):
    f = request.GET
    status = f.get("status", "open") if "status" in f else "open"
    if status not in ("open", "resolved", ""):
        status = "open"
    filters = {"service": (f.get("service") or "").strip(), "environment": f.get("environment") or "",
               "status": status}
    qs = selectors.findings_list(findings_visible_to(request.user), service=filters["service"] or None,
                                 environment=filters["environment"] or None, status=status or None)
    page = Paginator(qs, PAGE_SIZE).get_page(f.get("page"))
    querystring = urlencode(filters)
    return render(request, "environments/config/drift_list.html", {
        "page_obj": page, "rows": findings_rows(page.object_list), "filters": filters,
        "environments": Environment.objects.order_by("order"), "counts": selectors.open_drift_counts(),
        "statuses": [("open", "Open"), ("resolved", "Resolved"), ("", "Any")],
        "querystring_without_page": querystring + "&", "next": request.get_full_path(),
    })


def _candidates(finding: DriftFinding) -> list[dict[str, Any]]:
    """Approved baseline versions of the finding's service × environment, newest first, each with
    its change: what `accepted` may name. Whether one holds the observed value is the service's
    decision; the page only hints at it for values it can compare (not secrets)."""
    versions = (ConfigBaseline.objects.filter(service_id=finding.service_id, environment_id=finding.environment_id,
                                              status__in=[ConfigBaseline.Status.APPROVED,
                                                          ConfigBaseline.Status.SUPERSEDED])
                .select_related("change").order_by("-version")[:MAX_CANDIDATES])
    out = []
    for baseline in versions:
        entry = baseline.settings.get(finding.key)
        if finding.kind == DriftFinding.Kind.MISSING:
            holds = entry is None
        elif finding.secret or entry is None:
            holds = None if entry is not None else False
        else:
            holds = str(entry.get("value", "")) == finding.observed
        out.append({"baseline": baseline, "change": baseline.change, "holds": holds})
    return out


@member_required
def drift_detail(request, pk: int):
    finding = get_finding_for_user(request.user, pk, queryset=selectors.findings_list(
        findings_visible_to(request.user)).select_related("baseline", "cleared_by", "resolving_baseline"))
    candidates = _candidates(finding) if finding.is_open and finding.kind != DriftFinding.Kind.STALE else []
    return render(request, "environments/config/drift_detail.html", {
        "finding": finding, "expected": shown_finding_value(finding, finding.expected),
        "observed": shown_finding_value(finding, finding.observed), "candidates": candidates,
        "can_resolve": finding.is_open and can_resolve_drift(request.user, finding),
    })


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


@member_required
@require_POST
def drift_resolve_view(request, pk: int):
    """Resolve a finding from the browser: the same service, the same guards and refusals as
    POST /api/v1/config/drift/{id}/resolve/; a refusal comes back as a message."""
    finding = get_finding_for_user(request.user, pk)
    detail = reverse("environments:config-drift-detail", args=[finding.pk])
    resolution = request.POST.get("resolution", "")
    reference = (request.POST.get("change") or "").strip()
    change = None
    if reference:
        change = (ChangeRequest.objects.filter(number__iexact=reference).first()
                  or (ChangeRequest.objects.filter(pk=parse_id(reference)).first() if parse_id(reference)
                      else None))
        if change is None:
            messages.error(request, f"No change {reference}.")
            return redirect(_safe_next(request, detail))
    try:
        resolved = drift_resolve(finding=finding, resolution=resolution, change=change, actor=request.user)
    except PortalError as exc:
        messages.error(request, f"{finding.reference} was not resolved: {exc.message}")
        return redirect(_safe_next(request, detail))
    how = (f"accepted with {change.number}" if resolved.resolution == DriftFinding.Resolution.ACCEPTED
           else "marked reverted")
    messages.success(request, f"{resolved.reference} ({resolved.key}) {how}.")
    return redirect(_safe_next(request, detail))
