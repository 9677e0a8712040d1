"""Reads for delivery pages and the API, with their relations loaded up front."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery

from apps.catalog.models import Environment, Service
from apps.changes.models import ChangeRequest
from releaseportal.input import control_characters, parse_id

from .models import Artifact, Deployment, DeploymentCommit, Evidence, GateDecision


def change_by_ref(ref) -> ChangeRequest | None:
    """A change by id (`123`) or number (`CHG-000123`)."""
    if ref in (None, ""):
        return None
    text = str(ref).strip()
    qs = ChangeRequest.objects.select_related("service", "environment")
    if (pk := parse_id(text)) is not None:
        return qs.filter(pk=pk).first()
    if control_characters(text):
        return None
    return qs.filter(number__iexact=text).first()


def artifact_by_digest(digest: str, *, service: Service | None = None) -> Artifact | None:
    qs = Artifact.objects.select_related("service", "service__owner_team", "signing_key").filter(digest=digest)
    if service is not None:
        qs = qs.filter(service=service)
    found = list(qs[:2])
    return found[0] if len(found) == 1 else None


def artifact_digest_ambiguous(digest: str) -> bool:
    return Artifact.objects.filter(digest=digest).count() > 1


def deployments_list() -> QuerySet[Deployment]:
    # A subquery, not a join + GROUP BY: the paginator's count then skips it altogether.
    commits = (DeploymentCommit.objects.filter(deployment=OuterRef("pk")).order_by().values("deployment")
               .annotate(n=Count("id")).values("n"))
    return (Deployment.objects.select_related("service", "environment", "artifact", "change", "created_by")
            .annotate(commit_count=Subquery(commits)))


def deployment_detail(pk: int) -> Deployment | None:
    return (Deployment.objects.select_related("service", "environment", "artifact", "change", "gate_decision",
                                              "created_by")
            .prefetch_related(Prefetch("commits", queryset=DeploymentCommit.objects.order_by("-authored_at")))
            .filter(pk=pk).first())


def gate_decisions_list() -> QuerySet[GateDecision]:
    return GateDecision.objects.select_related("service", "environment", "artifact", "change", "requested_by")


def artifacts_list() -> QuerySet[Artifact]:
    return Artifact.objects.select_related("service", "signing_key", "created_by")


def artifact_page(pk: int) -> Artifact | None:
    return (Artifact.objects.select_related("service", "service__owner_team", "signing_key", "created_by")
            .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.select_related("created_by")
                                       .order_by("-created_at")))
            .filter(pk=pk).first())


def environment_status(service: Service, environments: list[Environment]) -> list[dict]:
    """What runs where: the last successful and the last deployment per environment."""
    columns = []
    last_ok_ids = dict(
        Deployment.objects.filter(service=service, status=Deployment.Status.SUCCEEDED)
        .values_list("environment").annotate(last=Max("id")).values_list("environment", "last")
    )
    last_any_ids = dict(
        Deployment.objects.filter(service=service).values_list("environment").annotate(last=Max("id"))
        .values_list("environment", "last")
    )
    ids = set(last_ok_ids.values()) | set(last_any_ids.values())
    rows = {d.pk: d for d in Deployment.objects.select_related("artifact", "change").filter(pk__in=ids)}
    previous_version = None
    for env in environments:
        running = rows.get(last_ok_ids.get(env.pk))
        latest = rows.get(last_any_ids.get(env.pk))
        version = (running.version if running else None)
        columns.append({
            "environment": env, "running": running, "latest": latest,
            # Promotion: the version waiting in the previous environment, if it differs.
            "pending_promotion": previous_version if previous_version and previous_version != version else None,
        })
        previous_version = version
    return columns


def production_deployments(*, start: datetime, end: datetime) -> QuerySet[Deployment]:
    return (Deployment.objects.filter(environment__is_production=True, started_at__gte=start, started_at__lt=end)
            .select_related("service", "environment", "change", "gate_decision", "artifact"))


def in_progress(limit: int = 10) -> QuerySet[Deployment]:
    return deployments_list().filter(Q(status=Deployment.Status.STARTED) | Q(status=Deployment.Status.IN_PROGRESS))[:limit]
