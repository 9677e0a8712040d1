from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date

from releaseportal.input import parse_id

from .models import AuditEvent


def _day_bound(value: str, end: bool) -> datetime | None:
    day = parse_date(value or "")
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def audit_events_filtered(params: Any) -> tuple[QuerySet[AuditEvent], dict[str, str]]:
    """Filters from a query dict; returns the queryset and the cleaned filter values."""
    qs = AuditEvent.objects.order_by("-seq")
    cleaned: dict[str, str] = {}
    actor = (params.get("actor") or "").strip()
    if actor:
        qs = qs.filter(actor_label__iexact=actor)
        cleaned["actor"] = actor
    action = (params.get("action") or "").strip()
    if action:
        qs = qs.filter(action__startswith=action)
        cleaned["action"] = action
    object_type = (params.get("object_type") or "").strip()
    if object_type:
        qs = qs.filter(object_type=object_type)
        cleaned["object_type"] = object_type
    object_id = (params.get("object_id") or "").strip()
    if object_id:
        qs = qs.filter(object_id=object_id)
        cleaned["object_id"] = object_id
    start = _day_bound(params.get("date_from", ""), end=False)
    if start:
        qs = qs.filter(created_at__gte=start)
        cleaned["date_from"] = params.get("date_from")
    end = _day_bound(params.get("date_to", ""), end=True)
    if end:
        qs = qs.filter(created_at__lte=end)
        cleaned["date_to"] = params.get("date_to")
    return qs, cleaned


SEARCH_LIMIT = 25


def workspace_search(q: str) -> dict[str, Any]:
    """The auditor workspace search: changes, deployments, audit events and archived records
    matching `q` (a change number, service slug, version, action or words of a title). One
    query per section, each capped."""
    from django.db.models import Q

    from apps.changes.models import ChangeRequest
    from apps.delivery.models import Deployment

    from .models import ArchivedRecord

    q = (q or "").strip()[:100]
    if not q:
        return {"q": "", "changes": [], "deployments": [], "events": [], "archived": []}
    change_q = Q(number__iexact=q) | Q(title__icontains=q) | Q(service__slug__iexact=q)
    deployment_q = Q(service__slug__iexact=q) | Q(version__iexact=q) | Q(change__number__iexact=q)
    event_q = Q(action__startswith=q) | Q(object_repr__icontains=q) | Q(actor_label__iexact=q)
    if (pk := parse_id(q)) is not None:  # ASCII digits within bigint only ("²".isdigit() is true)
        change_q |= Q(pk=pk)
        deployment_q |= Q(pk=pk)
        event_q |= Q(seq=int(q))
    return {
        "q": q,
        "changes": list(ChangeRequest.objects.filter(change_q).select_related("service", "environment", "change_type")
                        .order_by("-created_at")[:SEARCH_LIMIT]),
        "deployments": list(Deployment.objects.filter(deployment_q).select_related("service", "environment", "change")
                            .order_by("-started_at")[:SEARCH_LIMIT]),
        "events": list(AuditEvent.objects.filter(event_q).order_by("-seq")[:SEARCH_LIMIT]),
        "archived": list(ArchivedRecord.objects.filter(
            Q(reference__iexact=q) | Q(title__icontains=q) | Q(service_slug__iexact=q))
            .select_related("archive").order_by("-occurred_at")[:SEARCH_LIMIT]),
    }


ARCHIVES_SHOWN = 24


def recent_archives() -> list[Any]:
    """The newest archives (class, month, records, SHA-256, purged or not): one query."""
    from .models import Archive

    return list(Archive.objects.order_by("-month", "record_class")[:ARCHIVES_SHOWN])
