"""Reads for delivery pages and the API, with their relations loaded up front."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from apps.catalog.models import Environment, Service
from apps.changes.models import ChangeRequest
from releaseportal.input import control_characters, parse_id

from .models import Artifact, Deployment, DeploymentCommit, Evidence, GateDecision, SharedResource


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
    """What runs where: per environment, the deployment now live (the last one to *succeed*, by
    finish time: a rollback redeploys an older version, and that version is then current) and the
    latest one started. Two queries whatever the number of environments."""
    succeeded = Deployment.objects.filter(service=service, environment=OuterRef("pk"),
                                          status=Deployment.Status.SUCCEEDED)
    started = Deployment.objects.filter(service=service, environment=OuterRef("pk"))
    ids = (Environment.objects.filter(pk__in=[env.pk for env in environments])
           .annotate(live=Subquery(succeeded.order_by(F("finished_at").desc(nulls_last=True), "-started_at", "-id")
                                   .values("pk")[:1]),
                     latest=Subquery(started.order_by("-started_at", "-id").values("pk")[:1]))
           .values_list("pk", "live", "latest"))
    rows = list(ids)
    wanted = {pk for _, live, latest in rows for pk in (live, latest) if pk is not None}
    found = {d.pk: d for d in Deployment.objects.select_related("artifact", "change").filter(pk__in=wanted)}
    by_env = {env_id: (found.get(live), found.get(latest)) for env_id, live, latest in rows}
    columns = []
    previous_version = None
    for env in environments:
        running, latest = by_env.get(env.pk, (None, None))
        version = running.version if running else None
        columns.append({
            "environment": env, "running": running, "latest": latest,
            # Promotion: what is live one environment down, unless this one already runs it.
            "pending_promotion": previous_version if previous_version and previous_version != version else None,
        })
        previous_version = version
    return columns


def shared_resources_list(*, service: Service | None = None) -> list[SharedResource]:
    """Shared resources with their live holder (if any) and the services that declare them: two
    queries. `lock_live` is False for no lock or an expired one (taken over on the next request)."""
    from django.utils import timezone

    qs = (SharedResource.objects.select_related("lock__deployment__service", "lock__deployment__environment",
                                                "lock__deployment__created_by")
          .prefetch_related(Prefetch("services", queryset=Service.objects.order_by("slug").only("slug", "name")))
          .order_by("slug"))
    if service is not None:
        qs = qs.filter(services=service)
    resources = list(qs)
    now = timezone.now()
    for resource in resources:
        lock = getattr(resource, "lock", None)
        resource.live_lock = lock if lock is not None and lock.expires_at > now else None
    return resources


def production_deployments(*, start: datetime, end: datetime) -> QuerySet[Deployment]:
    return (Deployment.objects.filter(environment__is_production=True, started_at__gte=start, started_at__lt=end)
            .select_related("service", "environment", "change", "gate_decision", "artifact"))


def in_progress(limit: int = 10) -> QuerySet[Deployment]:
    return deployments_list().filter(Q(status=Deployment.Status.STARTED) | Q(status=Deployment.Status.IN_PROGRESS))[:limit]
