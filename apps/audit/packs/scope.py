"""What a pack covers: parameters checked and normalised, then the deployments and change
requests in scope as querysets (never lists)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_date

from releaseportal.errors import InvalidInput, NotFound

from ..models import EvidencePack

CONTROLS = {
    "sox_change_management": "SOX change management: every production deployment reconciled to its approved change",
}
MAX_PERIOD_DAYS = 400


def _date(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> dt.date | None:
    raw = data.get(name)
    if raw in (None, ""):
        errors[name] = ["Required for this scope (YYYY-MM-DD)."]
        return None
    try:
        value = parse_date(str(raw))
    except ValueError:
        value = None
    if value is None:
        errors[name] = ["Not a date (YYYY-MM-DD)."]
    return value


def _change_ref(raw: Any):
    from apps.changes.models import ChangeRequest

    text = str(raw or "").strip()
    if not text:
        return None
    query = Q(number__iexact=text)
    if text.isdigit() and len(text) <= 18:
        query |= Q(pk=int(text))
    return ChangeRequest.objects.filter(query).first()


def normalise_parameters(scope: str, data: dict[str, Any]) -> dict[str, Any]:
    """Canonical parameters of a pack: only what the scope uses, as strings, so the same request
    always reads the same (reproducibility starts here)."""
    from apps.catalog.models import Service

    errors: dict[str, list[str]] = {}
    if scope not in EvidencePack.Scope.values:
        raise InvalidInput("Unknown scope.", code="invalid_scope",
                           fields={"scope": [f"One of: {', '.join(EvidencePack.Scope.values)}."]})
    params: dict[str, Any] = {"scope": scope}
    if scope == EvidencePack.Scope.CHANGE:
        change = _change_ref(data.get("change"))
        if change is None:
            raise NotFound("No such change request.", fields={"change": ["No change request with this id or number."]})
        params["change"] = change.number
    if scope in (EvidencePack.Scope.RELEASE, EvidencePack.Scope.SERVICE_PERIOD):
        slug = str(data.get("service") or "").strip()
        if not slug:
            errors["service"] = ["Required for this scope (service slug)."]
        elif not Service.objects.filter(slug=slug).exists():
            errors["service"] = [f"No service '{slug}'."]
        params["service"] = slug
    if scope == EvidencePack.Scope.RELEASE:
        version = str(data.get("version") or "").strip()
        if not version:
            errors["version"] = ["Required for a release pack: the version deployed."]
        params["version"] = version
    if scope == EvidencePack.Scope.CONTROL_PERIOD:
        control = str(data.get("control") or "").strip()
        if control not in CONTROLS:
            errors["control"] = [f"One of: {', '.join(CONTROLS)}."]
        params["control"] = control
    if scope in (EvidencePack.Scope.SERVICE_PERIOD, EvidencePack.Scope.CONTROL_PERIOD):
        start = _date(data, "period_start", errors)
        end = _date(data, "period_end", errors)
        if start and end:
            if end < start:
                errors["period_end"] = ["Ends before period_start."]
            elif (end - start).days > MAX_PERIOD_DAYS:
                errors["period_end"] = [f"A period is at most {MAX_PERIOD_DAYS} days."]
            params["period_start"], params["period_end"] = start.isoformat(), end.isoformat()
    if errors:
        raise InvalidInput("The pack parameters are not valid.", code="invalid_parameters", fields=errors)
    return params


def period_bounds(params: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00 UTC, day after end 00:00 UTC): period_end is inclusive."""
    start = dt.datetime.combine(dt.date.fromisoformat(params["period_start"]), dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(dt.date.fromisoformat(params["period_end"]) + dt.timedelta(days=1), dt.time.min,
                              tzinfo=dt.UTC)
    return start, end


def title_for(params: dict[str, Any]) -> str:
    scope = params["scope"]
    if scope == "change":
        return f"Change {params['change']}"
    if scope == "release":
        return f"Release {params['service']} {params['version']}"
    period = f"{params.get('period_start')} to {params.get('period_end')}"
    if scope == "service_period":
        return f"Service {params['service']}, {period}"
    return f"Control {params['control']}, {period}"


def deployments_in_scope(params: dict[str, Any]) -> QuerySet:
    """The deployments a pack lists (and reconciles, when in production)."""
    from apps.delivery.models import Deployment

    qs = Deployment.objects.annotate(at=Coalesce("finished_at", "started_at"))
    scope = params["scope"]
    if scope == "change":
        return qs.filter(change__number=params["change"])
    if scope == "release":
        return qs.filter(service__slug=params["service"]).filter(
            Q(version=params["version"]) | Q(artifact__version=params["version"]))
    start, end = period_bounds(params)
    qs = qs.filter(at__gte=start, at__lt=end)
    if scope == "service_period":
        return qs.filter(service__slug=params["service"])
    return qs.filter(environment__is_production=True)


def changes_in_scope(params: dict[str, Any], deployments: QuerySet) -> QuerySet:
    from apps.changes.models import ChangeRequest

    linked = Q(pk__in=deployments.exclude(change__isnull=True).values("change_id"))
    if params["scope"] == "change":
        return ChangeRequest.objects.filter(number=params["change"])
    if params["scope"] == "service_period":
        start, end = period_bounds(params)
        return ChangeRequest.objects.filter(
            linked | Q(service__slug=params["service"], created_at__gte=start, created_at__lt=end))
    return ChangeRequest.objects.filter(linked)
