"""Reads that span relations, each at a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.delivery.models import Deployment

from .linking import annotate_links
from .models import Incident
from .state_machine import ACTIVE


def incidents_list(*, service: str | None = None, team: str | None = None, severity: str | None = None,
                   status: str | None = None, classification: str | None = None, search: str | None = None,
                   active: bool = False) -> QuerySet[Incident]:
    qs = Incident.objects.select_related("service", "service__owner_team", "classification", "commander")
    if service:
        qs = qs.filter(service__slug=service)
    if team:
        qs = qs.filter(service__owner_team__slug=team)
    if severity:
        qs = qs.filter(severity=severity)
    if status:
        qs = qs.filter(status=status)
    if active:
        qs = qs.filter(status__in=ACTIVE)
    if classification:
        qs = qs.filter(classification__slug=classification)
    if search:
        term = search.strip()
        if term.upper().startswith("INC-") and term[4:].isdigit():
            qs = qs.filter(pk=int(term[4:]))
        else:
            qs = qs.filter(title__icontains=term)
    return annotate_links(qs).order_by("-started_at", "-pk")


def deployments_by_id(ids) -> dict[int, Deployment]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {d.pk: d for d in Deployment.objects.filter(pk__in=ids).select_related("environment")}


def month_starts(months: int, *, today: date | None = None) -> list[date]:
    today = today or timezone.localdate()
    year, month = today.year, today.month
    out = []
    for _ in range(months):
        out.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(out))


def recurring_patterns(*, months: int = 12, team: str | None = None, release_related_only: bool = False,
                       today: date | None = None) -> dict:
    """Incident counts by classification × owner team × month (started_at, local time), in one
    aggregate query. Team = the service's owner team today (METRICS.md)."""
    columns = month_starts(months, today=today)
    since = timezone.make_aware(datetime.combine(columns[0], time.min))
    qs = Incident.objects.filter(started_at__gte=since)
    if team:
        qs = qs.filter(service__owner_team__slug=team)
    if release_related_only:
        qs = qs.filter(classification__is_release_related=True)
    rows = (
        qs.annotate(month=TruncMonth("started_at", tzinfo=timezone.get_current_timezone()))
        .values("classification__name", "service__owner_team__name", "month")
        .annotate(n=Count("id"))
        .order_by()
    )
    grid: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, datetime) else month
        key = (row["classification__name"] or "Unclassified", row["service__owner_team__name"])
        grid[key][month] = grid[key].get(month, 0) + row["n"]
    table = []
    for (classification, team_name), counts in sorted(grid.items()):
        cells = [counts.get(m, 0) for m in columns]
        table.append({"classification": classification, "team": team_name, "cells": cells, "total": sum(cells)})
    table.sort(key=lambda r: (-r["total"], r["classification"], r["team"]))
    totals = [sum(r["cells"][i] for r in table) for i in range(len(columns))]
    return {"months": columns, "rows": table, "totals": totals, "total": sum(totals)}


def open_incident_counts() -> dict[str, int]:
    rows = (Incident.objects.filter(status__in=ACTIVE).values("severity").annotate(n=Count("id")).order_by())
    return {row["severity"]: row["n"] for row in rows}


def service_incident_summary(service) -> dict:
    """Recent incidents of one service with their links (one query) and the active count."""
    recent = list(annotate_links(Incident.objects.filter(service=service)).order_by("-started_at", "-pk")[:5])
    counts = Incident.objects.filter(service=service).aggregate(
        active=Count("id", filter=Q(status__in=ACTIVE)), total=Count("id"))
    return {"recent": recent, **counts}
