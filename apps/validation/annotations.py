"""Deployment markers in Grafana's annotation shape (issue #14).

`GET /api/v1/annotations/?from=&to=&service=&environment=` answers `[{"time", "timeEnd", "title",
"text", "tags"}]`, times in milliseconds since the epoch, oldest first: one marker per deployment
(a rollback deployment tagged `rollback`) and one per rollback decision (tagged `rollback` and
`automatic` or `manual`). `from` and `to` are milliseconds since the epoch (what Grafana sends)
or ISO 8601 times with an offset; without them, the last 24 hours. A range longer than
MAX_RANGE_DAYS, or more than MAX_ANNOTATIONS markers, is refused or cut (newest kept). Two queries
whatever the data: deployments, then rollback decisions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.catalog.models import Environment, Service
from apps.delivery.models import Deployment
from releaseportal.errors import InvalidInput

from .models import RollbackDecision

MAX_RANGE_DAYS = 366
MAX_ANNOTATIONS = 2000
DEFAULT_RANGE = timedelta(hours=24)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def deployment_annotation(deployment: Deployment) -> dict[str, Any]:
    version = deployment.version or (deployment.artifact.version if deployment.artifact_id else "?")
    is_rollback = deployment.kind == Deployment.Kind.ROLLBACK
    verb = "Rolled back" if is_rollback else "Deployed"
    start = ms(deployment.started_at)
    end = ms(deployment.finished_at) if deployment.finished_at else start
    text = f"Deployment #{deployment.pk}: {deployment.get_status_display().lower()}"
    if deployment.change_id:
        text += f", change {deployment.change.number}"
    if deployment.pipeline_run_id:
        text += f", pipeline run {deployment.pipeline_run_id}"
    tags = ["rollback" if is_rollback else "deployment", f"service:{deployment.service.slug}",
            f"environment:{deployment.environment.slug}", f"status:{deployment.status}"]
    return {"time": start, "timeEnd": max(start, end),
            "title": f"{verb} {deployment.service.slug} {version} to {deployment.environment.slug}",
            "text": text + ".", "tags": tags}


def decision_annotation(decision: RollbackDecision) -> dict[str, Any]:
    deployment = decision.deployment
    at = ms(decision.decided_at)
    reasons = "; ".join(str(r.get("message") or r.get("code") or "") for r in (decision.reasons or []))
    text = f"Rollback of deployment #{deployment.pk} decided ({decision.get_trigger_display().lower()})"
    if decision.change_id:
        text += f", change {decision.change.number}"
    return {"time": at, "timeEnd": at,
            "title": f"Rollback decided: {deployment.service.slug} {deployment.version} in "
                     f"{deployment.environment.slug}",
            "text": text + (f": {reasons}" if reasons else "."),
            "tags": ["rollback", decision.trigger, f"service:{deployment.service.slug}",
                     f"environment:{deployment.environment.slug}"]}


def _parse_moment(value: str) -> datetime | None:
    value = value.strip()
    if value.lstrip("-").isdigit():
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or timezone.is_naive(parsed):
        return None
    return parsed


def clean_params(params) -> dict[str, Any]:
    """The query string, checked: 400 naming every bad parameter."""
    errors: dict[str, list[str]] = {}
    moments: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        raw = params.get(name)
        if raw in (None, ""):
            moments[name] = None
            continue
        moments[name] = _parse_moment(raw)
        if moments[name] is None:
            errors[name] = ["Milliseconds since the epoch, or an ISO 8601 time with its offset."]
    cleaned: dict[str, Any] = {}
    for name, model in (("service", Service), ("environment", Environment)):
        slug = params.get(name)
        if slug:
            found = model.objects.filter(slug=slug).values_list("pk", flat=True).first()
            if found is None:
                errors[name] = [f"No {name} {slug}."]
            cleaned[f"{name}_id"] = found
    if not errors:
        end = moments["to"] or timezone.now()
        start = moments["from"] or end - DEFAULT_RANGE
        if start > end:
            errors["from"] = ["Must not be after to."]
        elif end - start > timedelta(days=MAX_RANGE_DAYS):
            errors["to"] = [f"The range may span at most {MAX_RANGE_DAYS} days."]
        cleaned.update(start=start, end=end)
    if errors:
        raise InvalidInput("Bad annotation query: " + ", ".join(sorted(errors)) + ".", fields=errors)
    return cleaned


def annotations_between(*, start: datetime, end: datetime, service_id: int | None = None,
                        environment_id: int | None = None) -> list[dict[str, Any]]:
    """Markers of deployments running and rollbacks decided within [start, end], oldest first."""
    deployments = Deployment.objects.filter(started_at__lte=end).filter(
        Q(finished_at__gte=start) | Q(finished_at__isnull=True, started_at__gte=start))
    decisions = RollbackDecision.objects.filter(decided_at__gte=start, decided_at__lte=end)
    if service_id:
        deployments = deployments.filter(service_id=service_id)
        decisions = decisions.filter(deployment__service_id=service_id)
    if environment_id:
        deployments = deployments.filter(environment_id=environment_id)
        decisions = decisions.filter(deployment__environment_id=environment_id)
    marks = [deployment_annotation(d) for d in deployments.select_related(
        "service", "environment", "artifact", "change").order_by("-started_at", "-pk")[:MAX_ANNOTATIONS]]
    marks += [decision_annotation(d) for d in decisions.select_related(
        "deployment__service", "deployment__environment", "change").order_by("-decided_at", "-pk")[:MAX_ANNOTATIONS]]
    marks.sort(key=lambda mark: (mark["time"], mark["title"]))
    return marks[-MAX_ANNOTATIONS:]
