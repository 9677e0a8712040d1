"""Validation's gate rule (apps/delivery/gate_rules.py): a failed canary stops the artifact.

`canary_failed`: the artifact asked for has a deployment whose *latest* canary analysis failed,
in the target environment or an earlier one. A canary runs beside the baseline in an
environment (production, usually); promoting the artifact further means the full rollout there
and every later environment, so both are denied. A later analysis of the same deployment that
passes (more samples, a fixed dashboard) lifts the denial; an analysis of another deployment does
not. An active emergency override of the change may waive it, like `tests_failed`: the gate
records the waiver, and the emergency's retrospective approval sees it.

One query, none without an artifact.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from apps.delivery.gate_rules import DENY, GateContext, GateRule, Reason

from .models import CanaryAnalysis

RULE_NAME = "validation.canary"
CANARY_FAILED = "canary_failed"


def failed_canary(*, artifact_id: int, environment_order: int) -> tuple | None:
    """(deployment id, environment slug, score) of a deployment of the artifact, in an environment
    at or below `environment_order`, whose latest canary analysis failed; or None."""
    superseded = CanaryAnalysis.objects.filter(deployment_id=OuterRef("deployment_id")).filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")))
    return (CanaryAnalysis.objects
            .filter(artifact_id=artifact_id, result=CanaryAnalysis.Result.FAIL,
                    deployment__environment__order__lte=environment_order)
            .filter(~Exists(superseded))
            .order_by("-created_at", "-pk")
            .values_list("deployment_id", "deployment__environment__slug", "score")
            .first())


def check_canary(context: GateContext) -> list[Reason]:
    if context.artifact is None:
        return []
    found = failed_canary(artifact_id=context.artifact.pk, environment_order=context.environment.order)
    if found is None:
        return []
    deployment_id, environment_slug, score = found
    return [(CANARY_FAILED, DENY,
             f"{context.artifact.version} failed its canary analysis on deployment #{deployment_id} to "
             f"{environment_slug} (score {score:g}): it may not be promoted further.")]


RULE = GateRule(name=RULE_NAME, codes={CANARY_FAILED: True}, check=check_canary)
