"""Sections on the change page: the evidence the change collected on its way to production —
builds and artifacts with their tests, scans, SBOM licences and provenance, gate decisions,
deployments and their logs. A fixed number of queries whatever the change's history."""

from __future__ import annotations

from django.db.models import Count, Prefetch

from .models import Artifact, Deployment, Evidence, GateDecision
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
    if not (deployments or decisions or artifacts):
        return [{"title": "Pipeline evidence", "template": "delivery/sections/change_empty.html", "order": 60,
                 "data": {}}]
    return [
        {"title": "Pipeline evidence: builds, tests, scans, SBOM, provenance", "order": 60,
         "template": "delivery/sections/change_artifacts.html",
         "data": {"artifacts": [(a, artifact_overview(list(a.evidence.all()))) for a in artifacts]}},
        {"title": "Gate decisions", "template": "delivery/sections/change_gates.html", "order": 61,
         "data": {"decisions": decisions}},
        {"title": "Deployments and logs", "template": "delivery/sections/change_deployments.html", "order": 62,
         "data": {"deployments": deployments,
                  "logs": [e for a in artifacts for e in a.evidence.all() if e.kind == "log"]}},
    ]
