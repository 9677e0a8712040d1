"""Writes for post-deployment validation: health policies, samples, check runs, verdicts.

Samples are telemetry, not governance acts: a post writes its batch and, when the verdict's
outcome changes, the verdict (history row + one audit event). A check run, a policy edit and a
rollback decision are each audited. The rollback itself lives in rollback.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from apps.delivery.models import Deployment
from releaseportal.errors import InvalidInput

from . import ingest, selectors
from .judgement import Judgement, judge
from .models import CheckResult, CheckRun, HealthPolicy, MetricSampleBatch, RollbackDecision, Verdict

MAX_VALIDATION_MINUTES = 7 * 24 * 60
MAX_CHECKS = 20
MAX_FOR_MINUTES = 24 * 60
CANARY_DIRECTIONS = ("increase_is_bad", "decrease_is_bad")
POLICY_FIELDS = {"validation_minutes", "checks", "canary", "smoke_required_within_minutes", "auto_rollback"}


# --- health policy ------------------------------------------------------------------------

def _num(value: Any, where: str, errors: dict, *, minimum: float | None = None, maximum: float | None = None,
         integer: bool = False) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors[where] = ["A number."]
        return None
    if integer and float(value) != int(value):
        errors[where] = ["A whole number."]
        return None
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        errors[where] = [f"Between {minimum:g} and {maximum:g}."]
        return None
    return int(value) if integer else float(value)


def policy_clean(data: Any) -> dict:
    """Validate a PUT body (every field of API.md required); InvalidInput names each bad field."""
    if not isinstance(data, dict):
        raise InvalidInput("A health policy is a JSON object.", fields={"body": ["Expected an object."]})
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - POLICY_FIELDS - {"is_default"}):
        errors[name] = ["Unknown field."]
    for name in sorted(POLICY_FIELDS - set(data)):
        errors[name] = ["This field is required."]
    if errors:
        raise InvalidInput("The health policy is incomplete or has unknown fields: " + ", ".join(errors) + ".",
                           fields=errors)
    cleaned: dict[str, Any] = {}
    cleaned["validation_minutes"] = _num(data["validation_minutes"], "validation_minutes", errors, minimum=1,
                                         maximum=MAX_VALIDATION_MINUTES, integer=True)
    checks = data["checks"]
    cleaned["checks"] = []
    if not isinstance(checks, list):
        errors["checks"] = ["A list of checks."]
    elif len(checks) > MAX_CHECKS:
        errors["checks"] = [f"At most {MAX_CHECKS} checks."]
    else:
        for i, check in enumerate(checks):
            where = f"checks[{i}]"
            if not isinstance(check, dict):
                errors[where] = ["An object."]
                continue
            extra = set(check) - {"metric", "comparator", "threshold", "for_minutes"}
            if extra:
                errors[where] = [f"Unknown keys: {', '.join(sorted(extra))}."]
            try:
                metric = ingest.clean_metric(check.get("metric"))
            except InvalidInput:
                errors[f"{where}.metric"] = ["A metric name such as error_rate_pct."]
                metric = None
            comparator = check.get("comparator")
            if comparator not in (">", "<"):
                errors[f"{where}.comparator"] = ['">" or "<".']
            threshold = _num(check.get("threshold"), f"{where}.threshold", errors)
            for_minutes = _num(check.get("for_minutes"), f"{where}.for_minutes", errors, minimum=0,
                               maximum=MAX_FOR_MINUTES)
            cleaned["checks"].append({"metric": metric, "comparator": comparator, "threshold": threshold,
                                      "for_minutes": for_minutes})
    canary = data["canary"]
    cleaned["canary"] = {"metrics": [], "pass_score": None, "marginal_score": None}
    if not isinstance(canary, dict):
        errors["canary"] = ["An object with metrics, pass_score and marginal_score."]
    else:
        for name in ("metrics", "pass_score", "marginal_score"):
            if name not in canary:
                errors[f"canary.{name}"] = ["This field is required."]
        extra = set(canary) - {"metrics", "pass_score", "marginal_score"}
        if extra:
            errors["canary"] = [f"Unknown keys: {', '.join(sorted(extra))}."]
        metrics = canary.get("metrics", [])
        if not isinstance(metrics, list):
            errors["canary.metrics"] = ["A list."]
            metrics = []
        seen = set()
        for i, item in enumerate(metrics):
            where = f"canary.metrics[{i}]"
            if not isinstance(item, dict):
                errors[where] = ["An object."]
                continue
            extra = set(item) - {"metric", "direction", "tolerance_pct"}
            if extra:
                errors[where] = [f"Unknown keys: {', '.join(sorted(extra))}."]
            try:
                metric = ingest.clean_metric(item.get("metric"))
            except InvalidInput:
                errors[f"{where}.metric"] = ["A metric name such as p95_latency_ms."]
                metric = None
            if metric in seen:
                errors[f"{where}.metric"] = ["Listed twice."]
            seen.add(metric)
            if item.get("direction") not in CANARY_DIRECTIONS:
                errors[f"{where}.direction"] = [" or ".join(CANARY_DIRECTIONS) + "."]
            tolerance = _num(item.get("tolerance_pct"), f"{where}.tolerance_pct", errors, minimum=0, maximum=1000)
            cleaned["canary"]["metrics"].append({"metric": metric, "direction": item.get("direction"),
                                                 "tolerance_pct": tolerance})
        if "pass_score" in canary:
            cleaned["canary"]["pass_score"] = _num(canary["pass_score"], "canary.pass_score", errors, minimum=0,
                                                   maximum=100)
        if "marginal_score" in canary:
            cleaned["canary"]["marginal_score"] = _num(canary["marginal_score"], "canary.marginal_score", errors,
                                                       minimum=0, maximum=100)
        p, m = cleaned["canary"]["pass_score"], cleaned["canary"]["marginal_score"]
        if p is not None and m is not None and m > p:
            errors["canary.marginal_score"] = ["Must not exceed pass_score."]
    within = data["smoke_required_within_minutes"]
    cleaned["smoke_required_within_minutes"] = None if within is None else _num(
        within, "smoke_required_within_minutes", errors, minimum=1, maximum=MAX_VALIDATION_MINUTES, integer=True)
    if not isinstance(data["auto_rollback"], bool):
        errors["auto_rollback"] = ["true or false."]
    cleaned["auto_rollback"] = data["auto_rollback"]
    if errors:
        raise InvalidInput("The health policy is invalid: " + ", ".join(errors) + ".", fields=errors)
    return cleaned


def health_policy_set(*, service, environment, data: Any, actor: Any) -> HealthPolicy:
    """Create or replace the policy of a service in an environment (history + one audit event)."""
    cleaned = policy_clean(data)
    with atomic_as(actor) as resolved:
        policy = (HealthPolicy.objects.select_for_update()
                  .filter(service=service, environment=environment).first())
        before = selectors.policy_as_dict(policy) if policy else None
        if policy is None:
            policy = HealthPolicy(service=service, environment=environment)
        policy.validation_minutes = cleaned["validation_minutes"]
        policy.checks = cleaned["checks"]
        policy.canary_metrics = cleaned["canary"]["metrics"]
        policy.pass_score = cleaned["canary"]["pass_score"]
        policy.marginal_score = cleaned["canary"]["marginal_score"]
        policy.smoke_required_within_minutes = cleaned["smoke_required_within_minutes"]
        policy.auto_rollback = cleaned["auto_rollback"]
        policy.updated_by = resolved.user
        policy.updated_at = timezone.now()
        history_stamp(policy, resolved)
        policy._change_reason = "created" if before is None else "updated"
        policy.save()
        after = selectors.policy_as_dict(policy)
        if before is not None:
            before.pop("is_default", None)
        after.pop("is_default", None)
        audit_event_record(action="validation.health_policy_set", target=policy, actor=resolved, details={
            "service": service.slug, "environment": environment.slug, "production": environment.is_production,
            "before": before, "after": after})
    return policy


# --- verdicts -----------------------------------------------------------------------------

def _judgement_changed(verdict: Verdict, judgement: Judgement) -> bool:
    return (verdict.status, verdict.action, verdict.reasons) != (judgement.status, judgement.action, judgement.reasons)


def _lock(deployment: Deployment) -> Deployment:
    """The deployment's row lock. FOR NO KEY UPDATE: a batch inserted in the same transaction
    holds FOR KEY SHARE on this row (its foreign key); a plain FOR UPDATE would deadlock two
    concurrent posts against each other."""
    return (Deployment.objects.select_for_update(of=("self",), no_key=True)
            .select_related("service", "service__owner_team", "environment", "change").get(pk=deployment.pk))


def _refresh_locked(locked: Deployment, resolved, now: datetime | None) -> tuple[Verdict, Judgement]:
    from .rollback import rollback_decide

    # Read after the lock, in their own queries: rows joined to the locking SELECT would be those
    # of its snapshot, from before the transaction that held the lock committed.
    decided = RollbackDecision.objects.filter(deployment_id=locked.pk).exists()
    judgement = judge(selectors.judgement_inputs(locked, now=now, rolled_back=decided))
    verdict = Verdict.objects.filter(deployment_id=locked.pk).first()
    if verdict is None or _judgement_changed(verdict, judgement):
        before = (verdict.status, verdict.action) if verdict else None
        if verdict is None:
            verdict = Verdict(deployment=locked)
        verdict.status, verdict.action, verdict.reasons = judgement.status, judgement.action, judgement.reasons
        verdict.inputs = judgement.snapshot
        verdict.window_start, verdict.window_end = judgement.window_start, judgement.window_end
        verdict.judged_at = timezone.now()
        history_stamp(verdict, resolved)
        verdict.save()
        audit_event_record(action="validation.verdict_changed", target=locked, actor=resolved, details={
            "from": list(before) if before else None, "to": [verdict.status, verdict.action],
            "reasons": [r["code"] for r in judgement.reasons]})
    if judgement.failed and not decided and judgement.snapshot["policy"]["auto_rollback"]:
        rollback_decide(deployment=locked, judgement=judgement, actor=resolved)
    return verdict, judgement


def verdict_refresh(*, deployment: Deployment, actor: Any, now: datetime | None = None) -> tuple[Verdict, Judgement]:
    """Judge the deployment and keep the verdict; on a failure under a policy with automatic
    rollback, decide the rollback (once). Runs under the deployment's row lock, so of concurrent
    posts each judges what the ones before it committed, and the last sees everything."""
    with atomic_as(actor) as resolved:
        return _refresh_locked(_lock(deployment), resolved, now)


# --- samples and checks -------------------------------------------------------------------

# A series' latest batch takes the next post's samples while they come after it, up to this many
# (an hour at one sample per 10 s): a judgement then reads a few rows per series, not one per post.
BATCH_MAX_SAMPLES = 360


def metric_samples_record(*, deployment: Deployment, metric: str, cohort: str, samples: Any, actor: Any,
                          source: str = "pairs") -> tuple[MetricSampleBatch, Verdict]:
    """Store one post of samples (validated: see ingest.py) and judge the deployment again.

    The samples join the series' latest batch when they all come after it (the usual case: a
    pipeline scraping every few seconds) and it has room; otherwise they make a new batch."""
    metric = ingest.clean_metric(metric)
    cohort = ingest.clean_cohort(cohort)
    field = "samples" if source == "pairs" else "data.result[0].values"
    cleaned = ingest.clean_samples(samples, field=field, started_at=deployment.started_at, now=timezone.now(),
                                   values_as_text=source == "prometheus")
    with atomic_as(actor) as resolved:
        # The deployment's lock first: posts for one deployment queue here, so the latest batch
        # cannot change under us.
        locked = _lock(deployment)
        latest = (MetricSampleBatch.objects.filter(deployment=deployment, metric=metric, cohort=cohort)
                  .order_by("-first_ts", "-id").first())
        if (latest is not None and latest.source == source and cleaned[0][0] > latest.last_ts
                and latest.count + len(cleaned) <= BATCH_MAX_SAMPLES):
            latest.samples = latest.samples + cleaned
            latest.count += len(cleaned)
            latest.last_ts = cleaned[-1][0]
            latest.save(update_fields=["samples", "count", "last_ts"])
            batch = latest
        else:
            batch = MetricSampleBatch.objects.create(
                deployment=deployment, metric=metric, cohort=cohort, samples=cleaned, count=len(cleaned),
                first_ts=cleaned[0][0], last_ts=cleaned[-1][0], source=source, created_by=resolved.user)
        batch.accepted = len(cleaned)  # this post's samples (after de-duplication by timestamp)
        verdict, _ = _refresh_locked(locked, resolved, None)
    return batch, verdict


def check_run_record(*, deployment: Deployment, kind: str, results: list[dict], source: str, sha256: str,
                     actor: Any, pipeline_run_id: str = "") -> tuple[CheckRun, Verdict]:
    kind = ingest.clean_kind(kind)
    counts = {s: sum(1 for r in results if r["status"] == s) for s in CheckResult.Status.values}
    with atomic_as(actor) as resolved:
        run = CheckRun(deployment=deployment, kind=kind, source=source, total=len(results), passed=counts["passed"],
                       failed=counts["failed"], skipped=counts["skipped"], sha256=sha256,
                       pipeline_run_id=pipeline_run_id[:100], created_by=resolved.user)
        history_stamp(run, resolved)
        run.save()
        CheckResult.objects.bulk_create([CheckResult(run=run, **r) for r in results])
        audit_event_record(action="validation.checks_recorded", target=deployment, actor=resolved, details={
            "run": run.pk, "kind": kind, "total": run.total, "passed": run.passed, "failed": run.failed,
            "sha256": sha256})
        verdict, _ = verdict_refresh(deployment=deployment, actor=resolved)
    return run, verdict


def open_deployments_judge(*, actor: Any, now: datetime | None = None, limit: int = 500) -> int:
    """Judge again every deployment whose verdict is still pending (time alone moves a verdict:
    the window ends, a smoke deadline passes), and judge for the first time the deployments of
    the last day that a policy requires smoke tests of but that never reported anything (their
    smoke_missing would otherwise go unnoticed). Called by the beat task every minute."""
    from datetime import timedelta

    from django.db.models import Exists, OuterRef

    now = now or timezone.now()
    pending = list(Verdict.objects.filter(status=Verdict.Status.PENDING).order_by("judged_at")
                   .values_list("deployment_id", flat=True)[:limit])
    smoke_policy = HealthPolicy.objects.filter(service_id=OuterRef("service_id"),
                                               environment_id=OuterRef("environment_id"),
                                               smoke_required_within_minutes__isnull=False)
    silent = list(Deployment.objects.filter(verdict__isnull=True, finished_at__isnull=False,
                                            finished_at__gte=now - timedelta(days=1))
                  .filter(Exists(smoke_policy)).values_list("pk", flat=True)[:limit])
    ids = pending + silent
    for deployment in Deployment.objects.filter(pk__in=ids):
        with transaction.atomic():
            verdict_refresh(deployment=deployment, actor=actor, now=now)
    return len(ids)
