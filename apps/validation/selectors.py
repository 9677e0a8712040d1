"""Reads for validation: the effective policy, the samples, what the judgement needs. Each
costs a fixed number of queries whatever the number of samples."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.delivery.models import Deployment

from .judgement import DEFAULT_POLICY, Inputs, criteria_checks
from .models import CanaryAnalysis, CheckRun, HealthPolicy, MetricSampleBatch, RollbackDecision, Verdict


def policy_as_dict(policy: HealthPolicy | None) -> dict:
    """The API shape of a stored policy, or the default one."""
    if policy is None:
        return {**DEFAULT_POLICY, "checks": [dict(c) for c in DEFAULT_POLICY["checks"]],
                "canary": dict(DEFAULT_POLICY["canary"]), "is_default": True}
    return {
        "validation_minutes": policy.validation_minutes,
        "checks": list(policy.checks or []),
        "canary": {"metrics": list(policy.canary_metrics or []), "pass_score": policy.pass_score,
                   "marginal_score": policy.marginal_score},
        "smoke_required_within_minutes": policy.smoke_required_within_minutes,
        "auto_rollback": policy.auto_rollback,
        "is_default": False,
    }


def health_policy_for(service_id: int, environment_id: int) -> HealthPolicy | None:
    return HealthPolicy.objects.filter(service_id=service_id, environment_id=environment_id).first()


def effective_policy(deployment: Deployment, policy: HealthPolicy | None | bool = False) -> dict:
    """The policy that judges this deployment: the service × environment policy (or the
    default) plus the change's rollback criteria as checks. One query (none when `policy` is
    passed); `deployment.change` should be select_related."""
    if policy is False:
        policy = health_policy_for(deployment.service_id, deployment.environment_id)
    effective = policy_as_dict(policy)
    if deployment.change_id:
        effective["checks"] = effective["checks"] + criteria_checks(deployment.change.rollback_criteria)
    return effective


def series_for(deployment_id: int, metrics: list[str] | None = None, cohorts: tuple[str, ...] | None = None,
               since: float | None = None, until: float | None = None) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """{(metric, cohort): [(ts, value), …] sorted by time} in one query."""
    qs = MetricSampleBatch.objects.filter(deployment_id=deployment_id)
    if metrics is not None:
        qs = qs.filter(metric__in=metrics)
    if cohorts is not None:
        qs = qs.filter(cohort__in=cohorts)
    if since is not None:
        qs = qs.filter(last_ts__gte=since)
    if until is not None:
        qs = qs.filter(first_ts__lte=until)
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    unsorted: set[tuple[str, str]] = set()
    for metric, cohort, samples in qs.order_by("first_ts", "id").values_list("metric", "cohort", "samples"):
        key = (metric, cohort)
        rows = series.setdefault(key, [])
        if rows and samples and samples[0][0] < rows[-1][0]:
            unsorted.add(key)  # batches overlap in time: sort once at the end
        rows.extend((s[0], s[1]) for s in samples)
    for key in unsorted:
        series[key].sort()
    return series


def samples_for(deployment_id: int, metric: str, cohort: str) -> tuple[list[float], list[float]]:
    """(timestamps, values) of one series, sorted by time: what the canary analysis reads."""
    rows = series_for(deployment_id, [metric], (cohort,)).get((metric, cohort), [])
    return [r[0] for r in rows], [r[1] for r in rows]


def latest_canary(deployment_id: int) -> CanaryAnalysis | None:
    return CanaryAnalysis.objects.filter(deployment_id=deployment_id).order_by("-created_at", "-id").first()


def canary_as_dict(analysis: CanaryAnalysis | None) -> dict | None:
    if analysis is None:
        return None
    return {"id": analysis.pk, "method": analysis.method, "metrics": analysis.metrics, "score": analysis.score,
            "result": analysis.result, "created_at": analysis.created_at.isoformat()}


def judgement_inputs(deployment: Deployment, *, now: datetime | None = None, rolled_back: bool | None = None) -> Inputs:
    """Everything `judge` needs for one deployment: five queries (policy, samples of the checked
    metrics, check runs, latest canary, and — unless the caller knows — the rollback decision)."""
    policy = effective_policy(deployment)
    metrics = sorted({c["metric"] for c in policy["checks"]})
    since = deployment.started_at.timestamp()
    series = series_for(deployment.pk, metrics, ("current", "canary"), since=since) if metrics else {}
    runs = [
        {"id": r.pk, "kind": r.kind, "failed": r.failed, "total": r.total, "created_at": r.created_at}
        for r in CheckRun.objects.filter(deployment_id=deployment.pk).order_by("-created_at", "-id")
        .only("pk", "kind", "failed", "total", "created_at")[:50]
    ]
    canary = canary_as_dict(latest_canary(deployment.pk))
    if rolled_back is None:
        rolled_back = RollbackDecision.objects.filter(deployment_id=deployment.pk).exists()
    return Inputs(policy=policy, deployment_started_at=deployment.started_at,
                  deployment_finished_at=deployment.finished_at, series=series, check_runs=runs, canary=canary,
                  now=now or timezone.now(), rolled_back=rolled_back)


def stored_verdict(deployment_id: int) -> Verdict | None:
    return Verdict.objects.filter(deployment_id=deployment_id).first()


def deployment_for_validation(pk: int) -> Deployment | None:
    return Deployment.objects.select_related("service", "service__owner_team", "environment", "change").filter(
        pk=pk).first()
