"""Which deployment caused an incident: the linking rule of METRICS.md, implemented once.

1. An explicit link (`caused_by_deployment`) wins → kind "explicit". An override to a specific
   deployment is an explicit link whose reason is kept in `link_override_reason`.
2. Otherwise, an override saying "no deployment caused this" (`link_suppressed`) → no link.
3. Otherwise the link is *inferred*: the last `succeeded` production deployment of the same
   service that finished strictly before the incident started → kind "inferred".

Reports and the API both read links through this module, so the rule cannot drift. The bulk
variant costs two queries and `annotate_links` one, however many incidents there are.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, CharField, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from apps.catalog.models import Environment
from apps.delivery.models import Deployment

from .models import Incident

EXPLICIT = "explicit"
INFERRED = "inferred"
LINK_KINDS = (EXPLICIT, INFERRED)

# Large id lists are chunked so no database hits its bound-parameter limit.
_CHUNK = 500


def production_environment_ids() -> list[int]:
    return list(Environment.objects.filter(is_production=True).values_list("pk", flat=True))


def inferred_candidates(service_ref, started_ref, prod_ids: list[int] | None = None) -> QuerySet[Deployment]:
    """Production deployments that may be inferred as the cause, latest first.

    With the production environment ids known up front (one cheap query), a single production
    environment becomes an equality, so the database walks the (service, environment,
    finished_at) index backwards and stops at the first succeeded row."""
    if prod_ids is None:
        env_filter = Q(environment__is_production=True)
    elif len(prod_ids) == 1:
        env_filter = Q(environment_id=prod_ids[0])
    else:
        env_filter = Q(environment_id__in=prod_ids)
    return (
        Deployment.objects.filter(
            env_filter,
            service=service_ref,
            status=Deployment.Status.SUCCEEDED,
            finished_at__isnull=False,
            finished_at__lt=started_ref,
        )
        .order_by("-finished_at", "-pk")
    )


def annotate_links(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Add `linked_deployment_id` and `link_kind` to every incident row (one query in total)."""
    inferred = Subquery(inferred_candidates(OuterRef("service_id"), OuterRef("started_at")).values("pk")[:1])
    return queryset.annotate(
        _inferred_deployment_id=Case(When(link_suppressed=False, then=inferred), default=Value(None)),
    ).annotate(
        linked_deployment_id=Coalesce(F("caused_by_deployment_id"), F("_inferred_deployment_id")),
        link_kind=Case(
            When(caused_by_deployment_id__isnull=False, then=Value(EXPLICIT)),
            When(_inferred_deployment_id__isnull=False, then=Value(INFERRED)),
            default=Value(None),
            output_field=CharField(),
        ),
    )


def linked_deployment(incident: Incident) -> tuple[Deployment | None, str | None]:
    """The deployment linked to one incident and how: ("explicit" | "inferred" | None)."""
    if incident.caused_by_deployment_id:
        return incident.caused_by_deployment, EXPLICIT
    if incident.link_suppressed:
        return None, None
    deployment = (
        inferred_candidates(incident.service_id, incident.started_at)
        .select_related("service", "environment")
        .first()
    )
    return (deployment, INFERRED) if deployment is not None else (None, None)


def _lean_rows(queryset: QuerySet[Incident], prod_ids: list[int]):
    """(pk, explicit id, suppressed, inferred id): the inferred subquery appears once per row."""
    inferred = Subquery(inferred_candidates(OuterRef("service_id"), OuterRef("started_at"), prod_ids).values("pk")[:1])
    # CASE is evaluated lazily, so explicit and suppressed rows never run the subquery.
    only_when_needed = Case(When(caused_by_deployment_id__isnull=True, link_suppressed=False, then=inferred),
                            default=Value(None))
    return queryset.annotate(_inferred=only_when_needed).values_list(
        "pk", "caused_by_deployment_id", "link_suppressed", "_inferred").order_by()


def _resolve(rows) -> dict[int, tuple[int | None, str | None]]:
    result: dict[int, tuple[int | None, str | None]] = {}
    for pk, explicit_id, suppressed, inferred_id in rows:
        if explicit_id:
            result[pk] = (explicit_id, EXPLICIT)
        elif suppressed or inferred_id is None:
            result[pk] = (None, None)
        else:
            result[pk] = (inferred_id, INFERRED)
    return result


def linked_deployments(incidents: Iterable[Incident] | QuerySet[Incident]) -> dict[int, tuple[int | None, str | None]]:
    """{incident_id: (deployment_id | None, kind | None)} for many incidents.

    A queryset costs two queries (the production environments, then the links); a list of
    incidents or ids costs one more query per 500."""
    prod_ids = production_environment_ids()
    if isinstance(incidents, QuerySet):
        return _resolve(_lean_rows(Incident.objects.filter(pk__in=incidents.values("pk")), prod_ids))
    ids = [item if isinstance(item, int) else item.pk for item in incidents]
    result: dict[int, tuple[int | None, str | None]] = {}
    for start in range(0, len(ids), _CHUNK):
        result.update(_resolve(_lean_rows(Incident.objects.filter(pk__in=ids[start:start + _CHUNK]), prod_ids)))
    return result
