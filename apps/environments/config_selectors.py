"""Reads about configuration baselines, observations and drift, for the API, the pages, the
dashboard and evidence packs. Each costs a fixed number of queries whatever the data size."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from .models.config import (
    ConfigBaseline,
    ConfigObservation,
    ConfigState,
    DriftFinding,
    EnvironmentConfigPolicy,
)

FINDING_RELATED = ("service", "environment", "deployment", "resolved_by", "resolving_change")


# --- baselines ----------------------------------------------------------------------------------

def approved_baseline(*, service, environment) -> ConfigBaseline | None:
    return (ConfigBaseline.objects.filter(service=service, environment=environment,
                                          status=ConfigBaseline.Status.APPROVED)
            .select_related("approved_by", "change").first())


def baseline_summary(*, service, environment) -> dict[str, Any]:
    """The GET of a baseline (API.md): the approved version and the pending proposal, in one query."""
    rows = list(ConfigBaseline.objects.filter(service=service, environment=environment,
                                              status__in=[ConfigBaseline.Status.APPROVED,
                                                          ConfigBaseline.Status.PROPOSED])
                .select_related("change", "approved_by", "proposed_by"))
    approved = next((b for b in rows if b.status == ConfigBaseline.Status.APPROVED), None)
    pending = next((b for b in rows if b.status == ConfigBaseline.Status.PROPOSED), None)
    return {
        "version": approved.version if approved else None,
        "status": approved.status if approved else ("none" if pending is None else "proposed"),
        "settings": approved.settings if approved else {},
        "approved_at": approved.approved_at if approved else None,
        "approved_by": approved.approved_by.username if approved and approved.approved_by else None,
        "approvers": approved.approvers if approved else [],
        "change": approved.change.number if approved else None,
        "pending": None if pending is None else {
            "version": pending.version, "status": pending.status, "settings": pending.settings,
            "change": pending.change.number, "proposed_at": pending.proposed_at,
            "proposed_by": pending.proposed_by.username if pending.proposed_by else None},
    }


def baseline_versions(*, service, environment) -> QuerySet[ConfigBaseline]:
    """Every version, newest first, with who proposed and who approved it (the history page, the
    side-by-side diff)."""
    return (ConfigBaseline.objects.filter(service=service, environment=environment)
            .select_related("change", "proposed_by", "approved_by").order_by("-version"))


def baseline_diff(old: ConfigBaseline | None, new: ConfigBaseline) -> list[dict[str, Any]]:
    """Rows of a side-by-side diff: `{"key", "old", "new", "change": added|removed|changed|same}`;
    old/new are the stored entries (`{"value", "secret", "must_match"}`) or None. No query."""
    before = old.settings if old is not None else {}
    after = new.settings
    rows = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        change = "added" if a is None else "removed" if b is None else "same" if a == b else "changed"
        rows.append({"key": key, "old": a, "new": b, "change": change})
    return rows


# --- findings -----------------------------------------------------------------------------------

def findings_list(queryset: QuerySet[DriftFinding], *, service: str | None = None, environment: str | None = None,
                  status: str | None = None) -> QuerySet[DriftFinding]:
    qs = queryset.select_related(*FINDING_RELATED)
    if service:
        qs = qs.filter(service__slug=service)
    if environment:
        qs = qs.filter(environment__slug=environment)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-last_seen", "-pk")


def open_findings(*, service=None, environment=None) -> QuerySet[DriftFinding]:
    """Open findings of a service, an environment, both, or the whole organisation (neither)."""
    qs = DriftFinding.objects.filter(status=DriftFinding.Status.OPEN).select_related(*FINDING_RELATED)
    if service is not None:
        qs = qs.filter(service=service)
    if environment is not None:
        qs = qs.filter(environment=environment)
    return qs.order_by("environment__order", "service__slug", "key")


def open_findings_for_service(service) -> QuerySet[DriftFinding]:
    return open_findings(service=service)


def open_findings_for_environment(environment) -> QuerySet[DriftFinding]:
    return open_findings(environment=environment)


def open_drift_counts() -> dict[str, int]:
    """For the dashboard: open findings, how many block the gate (must_match), services affected,
    stale pairs; one query."""
    row = DriftFinding.objects.filter(status=DriftFinding.Status.OPEN).aggregate(
        open=Count("pk"),
        blocking=Count("pk", filter=Q(must_match=True)),
        stale=Count("pk", filter=Q(kind=DriftFinding.Kind.STALE)),
        services=Count("service", distinct=True))
    return {k: row[k] or 0 for k in ("open", "blocking", "stale", "services")}


def findings_open_in_period(*, start: datetime, end: datetime, service=None) -> QuerySet[DriftFinding]:
    """Findings that were open at some time in [start, end): seen before the end and not resolved
    before the start. For evidence packs of a period (and of a service)."""
    qs = (DriftFinding.objects.filter(first_seen__lt=end)
          .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
          .select_related(*FINDING_RELATED))
    if service is not None:
        qs = qs.filter(service=service)
    return qs.order_by("first_seen", "pk")


# --- observations and parity --------------------------------------------------------------------

def latest_observations(*, service=None, environment=None) -> QuerySet[ConfigState]:
    """The latest observation per service × environment (with runtimes)."""
    qs = ConfigState.objects.select_related("service", "environment", "last_observation")
    if service is not None:
        qs = qs.filter(service=service)
    if environment is not None:
        qs = qs.filter(environment=environment)
    return qs.order_by("environment__order", "service__slug")


def observations_for(*, service, environment, limit: int = 50) -> list[ConfigObservation]:
    return list(ConfigObservation.objects.filter(service=service, environment=environment)
                .select_related("deployment", "baseline", "created_by").order_by("-observed_at", "-pk")[:limit])


def policy_for(environment) -> EnvironmentConfigPolicy | None:
    return EnvironmentConfigPolicy.objects.filter(environment=environment).first()
