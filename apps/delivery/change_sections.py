"""Sections on the change page: the evidence the change collected on its way to production —
pull requests naming it, builds and artifacts with their tests, scans, SBOM licences and
provenance, gate decisions, deployments and their logs. A fixed number of queries whatever the
change's history."""

from __future__ import annotations

from django.db.models import Count, Prefetch

from .models import Artifact, Deployment, DeploymentCommit, Evidence, GateDecision, PullRequest
from .presentation import artifact_overview


def sections(request, change) -> list[dict]:
    deployments = list(Deployment.objects.filter(change=change).select_related("environment", "artifact", "service")
                       .annotate(commit_count=Count("commits")).order_by("-started_at"))
    decisions = list(GateDecision.objects.filter(change=change).select_related("environment", "artifact",
                                                                                "requested_by")
                     .order_by("-created_at")[:50])
    artifact_ids = {d.artifact_id for d in deployments if d.artifact_id} | {g.artifact_id for g in decisions
                                                                              if g.artifact_id}
    artifacts = list(Artifact.objects.filter(pk__in=artifact_ids).select_related("signing_key")
                     .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("-created_at")))
                     .order_by("-created_at"))
    pulls = pull_requests_of(change)
    if not (deployments or decisions or artifacts or pulls):
        return [{"title": "Pipeline evidence", "template": "delivery/sections/change_empty.html", "order": 60,
                 "data": {}}]
    found = [
        {"title": "Pull requests", "template": "delivery/sections/change_pull_requests.html", "order": 59,
         "data": {"pulls": pulls}},
        {"title": "Pipeline evidence: builds, tests, scans, SBOM, provenance", "order": 60,
         "template": "delivery/sections/change_artifacts.html",
         "data": {"artifacts": [(a, artifact_overview(list(a.evidence.all()))) for a in artifacts]}},
        {"title": "Gate decisions", "template": "delivery/sections/change_gates.html", "order": 61,
         "data": {"decisions": decisions}},
        {"title": "Deployments and logs", "template": "delivery/sections/change_deployments.html", "order": 62,
         "data": {"deployments": deployments,
                  "logs": [e for a in artifacts for e in a.evidence.all() if e.kind == "log"]}},
    ]
    return found if pulls else found[1:]


def pull_requests_of(change) -> list[dict]:
    """The change's pull requests, each with the artifacts built from its merge (or head) commit
    and the deployments that shipped that commit: three queries whatever their number."""
    pulls = list(PullRequest.objects.filter(change=change).select_related("service").order_by("-opened_at", "-id"))
    if not pulls:
        return []
    shas = {p.merge_commit_sha or p.head_sha for p in pulls} - {""}
    built: dict[tuple[int, str], list[Artifact]] = {}
    for artifact in Artifact.objects.filter(service__in={p.service_id for p in pulls}, git_sha__in=shas) \
            .order_by("-created_at"):
        built.setdefault((artifact.service_id, artifact.git_sha), []).append(artifact)
    shipped: dict[tuple[int, str], list[Deployment]] = {}
    for commit in (DeploymentCommit.objects.filter(sha__in=shas, deployment__service__in={p.service_id for p in pulls})
                   .select_related("deployment__environment").order_by("-deployment__started_at")):
        shipped.setdefault((commit.deployment.service_id, commit.sha), []).append(commit.deployment)
    rows = []
    for pull in pulls:
        key = (pull.service_id, pull.merge_commit_sha or pull.head_sha)
        rows.append({"pull": pull, "artifacts": built.get(key, []), "deployments": shipped.get(key, [])})
    return rows
