"""Artifact retention: which builds the artifact repository keeps and which it may purge.

- A legal hold that covers the artifact (its service, team, period, the `artifact` record class
  or the artifact itself) keeps it, whatever else applies.
- An artifact that reached production is kept for the retention of its service's compliance
  scopes (the audit retention policies of the `artifact` record class: the longest scoped
  policy that applies, else the class default), counted from its last production deployment.
- An artifact running in some environment now (the newest succeeded deployment there) is kept.
- A build never promoted to production expires `settings.ARTIFACT_UNPROMOTED_DAYS` days after it
  was registered.

The answer is a plain list a lifecycle rule of Artifactory, Harbor or ECR can consume (purge the
digests listed `purge`), with the storage it frees. Three queries whatever the number of artifacts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.audit.models import RecordClass
from apps.audit.retention import (
    HeldRecord,
    active_holds,
    hold_covers,
    retain_until,
    retention_policies,
    retention_rule,
)
from apps.delivery.models import Artifact, Deployment

KEEP, PURGE = "keep", "purge"


@dataclass(frozen=True)
class RetentionDecision:
    digest: str
    service: str
    version: str
    format: str
    decision: str  # keep | purge
    reason: str  # legal_hold | production_retention | production_retention_ended | deployed | recent_build | unpromoted_expired
    detail: str
    size: int | None
    keep_until: dt.datetime | None


def _artifacts() -> QuerySet[Artifact]:
    succeeded = Deployment.objects.filter(artifact_id=OuterRef("pk"), status=Deployment.Status.SUCCEEDED)
    newer = Deployment.objects.filter(service_id=OuterRef("service_id"), environment_id=OuterRef("environment_id"),
                                      status=Deployment.Status.SUCCEEDED, started_at__gt=OuterRef("started_at"))
    return (Artifact.objects.select_related("service")
            .only("id", "digest", "version", "format", "size", "created_at", "service__slug",
                  "service__owner_team_id", "service__compliance_scopes")
            .annotate(
                last_production=Max("deployments__finished_at", filter=Q(
                    deployments__status=Deployment.Status.SUCCEEDED, deployments__environment__is_production=True)),
                running=Exists(succeeded.filter(~Exists(newer))))
            .order_by("service__slug", "created_at", "id"))


def artifact_retention(*, now: dt.datetime | None = None, service: str | None = None) -> list[RetentionDecision]:
    now = now or timezone.now()
    unpromoted_days = settings.ARTIFACT_UNPROMOTED_DAYS
    policies = retention_policies()
    holds = active_holds()
    qs = _artifacts()
    if service:
        qs = qs.filter(service__slug=service)
    decisions = []
    for artifact in qs:
        svc = artifact.service
        scopes = list(svc.compliance_scopes or [])

        def decide(decision: str, reason: str, detail: str, until: dt.datetime | None = None,
                   artifact=artifact, svc=svc) -> RetentionDecision:
            return RetentionDecision(digest=artifact.digest, service=svc.slug, version=artifact.version,
                                     format=artifact.format, decision=decision, reason=reason, detail=detail,
                                     size=artifact.size, keep_until=until)

        record = HeldRecord(record_class=RecordClass.ARTIFACT, object_id=str(artifact.pk), service_id=svc.pk,
                            team_id=svc.owner_team_id, occurred_at=artifact.created_at)
        hold = next((h for h in holds if hold_covers(h, record)), None)
        if hold is not None:
            decisions.append(decide(KEEP, "legal_hold", f"Under legal hold #{hold.pk} '{hold.title}'."))
        elif artifact.last_production is not None:
            years, _counted_from, why = retention_rule(RecordClass.ARTIFACT, scopes, policies)
            until = retain_until(artifact.last_production, years)
            scope_text = ", ".join(scopes) or "no compliance scope"
            if until > now or artifact.running:
                decisions.append(decide(KEEP, "production_retention",
                                        f"Deployed to production; kept {years} years ({why}; {scope_text}).", until))
            else:
                decisions.append(decide(PURGE, "production_retention_ended",
                                        f"Last in production {artifact.last_production:%Y-%m-%d}; the {years}-year "
                                        f"retention ({why}) ended {until:%Y-%m-%d}.", until))
        elif artifact.running:
            decisions.append(decide(KEEP, "deployed", "Running in an environment now."))
        else:
            expires = artifact.created_at + dt.timedelta(days=unpromoted_days)
            if expires > now:
                decisions.append(decide(KEEP, "recent_build",
                                        f"Never promoted to production; expires after {unpromoted_days} days.",
                                        expires))
            else:
                decisions.append(decide(PURGE, "unpromoted_expired",
                                        f"Never promoted to production; {unpromoted_days} days passed on "
                                        f"{expires:%Y-%m-%d}.", expires))
    return decisions


def storage_freed(decisions: list[RetentionDecision]) -> dict[str, int]:
    purged = [d for d in decisions if d.decision == PURGE]
    return {"bytes": sum(d.size or 0 for d in purged), "artifacts": len(purged),
            "artifacts_of_unknown_size": sum(1 for d in purged if d.size is None)}
