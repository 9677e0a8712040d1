"""Automatic rollbacks (issue #14): production deployments that post-deployment validation
rolled back on its own (a rollback decision with trigger `automatic`), by the month the decision
was taken in the report timezone. A figure beside the four keys; it changes none of METRICS.md's
definitions (those deployments already count as failed through their status or their linked
incident)."""

from __future__ import annotations

from .periods import Month, report_timezone
from .scopes import Scope

DEFINITION = ("Automatic rollbacks: production deployments rolled back by post-deployment validation "
              "(a failed verdict under a health policy with automatic rollback), by the month of the decision.")


def automatic_rollbacks(month: Month, scope: Scope) -> dict:
    """{"count", "previous", "definition"} for `month` and the month before.

    Like the rest of the dashboard it is served without reading the deployments again: the
    figure is cached under the newest rollback decision's id (decisions are never edited in
    the fields it reads), so a warm page costs one indexed query and a new decision shows at once."""
    from django.core.cache import cache
    from django.db.models import Max

    from apps.validation.models import RollbackDecision

    newest = RollbackDecision.objects.aggregate(newest=Max("pk"))["newest"] or 0
    key = f"reports:auto-rollbacks:{month.label}:{scope.key}:{newest}:{report_timezone().key}"
    figure = cache.get(key)
    if figure is None:
        figure = _count(month, scope)
        cache.set(key, figure, 24 * 3600)
    return figure


def _count(month: Month, scope: Scope) -> dict:
    from django.db.models import Count, Q

    from apps.validation.models import RollbackDecision

    tz = report_timezone()
    previous = month.previous()
    start, middle, end = previous.start(tz), month.start(tz), month.end(tz)
    qs = RollbackDecision.objects.filter(trigger=RollbackDecision.Trigger.AUTOMATIC,
                                         deployment__environment__is_production=True,
                                         decided_at__gte=start, decided_at__lt=end)
    service_ids = scope.service_ids()
    if service_ids is not None:
        qs = qs.filter(deployment__service_id__in=service_ids)
    counts = qs.aggregate(current=Count("pk", filter=Q(decided_at__gte=middle)),
                          previous=Count("pk", filter=Q(decided_at__lt=middle)))
    return {"count": counts["current"], "previous": counts["previous"], "definition": DEFINITION}
