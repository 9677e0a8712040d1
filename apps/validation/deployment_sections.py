"""Sections on delivery's deployment page (releaseportal.extensions, "deployment_sections"):
the verdict and the rollback decision, the metric charts, the canary table, the smoke and
synthetic checks, and the first-hour log review.

A fixed number of queries whatever the number of samples, checks or fingerprints: one per
kind of record (verdict + rollback decision + incident, sample batches, check runs + results,
the latest canary analysis, the log review + its new fingerprints, the health policy)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from django.db.models import Prefetch

from . import charts
from .models import (
    CanaryAnalysis,
    CheckResult,
    CheckRun,
    HealthPolicy,
    LogFingerprint,
    LogReview,
    MetricSampleBatch,
    RollbackDecision,
    Verdict,
)

NEW_FINGERPRINTS_SHOWN = 50
COHORT_ORDER = ("current", "canary", "baseline")
# The default policy's check (judgement: error rate above 5 % for 5 minutes), used for drawing
# when neither the verdict nor a policy row names the checks.
DEFAULT_CHECKS = [{"metric": "error_rate_pct", "comparator": ">", "threshold": 5.0, "for_minutes": 5}]
UNITS = {"error_rate_pct": " %", "p95_latency_ms": " ms", "p99_latency_ms": " ms", "cpu_pct": " %"}


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def breach_windows(points: list[tuple[float, float]], comparator: str, threshold: float,
                   for_minutes: float) -> list[tuple[float, float]]:
    """The runs of consecutive breaching samples that held for at least `for_minutes` (the
    judgement's rule, drawn): [(first breaching sample, last breaching sample)]."""
    def breaches(value: float) -> bool:
        return value > threshold if comparator == ">" else value < threshold

    windows: list[tuple[float, float]] = []
    start = last = None
    for ts, value in points:
        if breaches(value):
            start = ts if start is None else start
            last = ts
        else:
            if start is not None and last - start >= for_minutes * 60:
                windows.append((start, last))
            start = last = None
    if start is not None and last - start >= for_minutes * 60:
        windows.append((start, last))
    return windows


def _checks(verdict: Verdict | None, policy: HealthPolicy | None) -> list[dict]:
    """The threshold checks the verdict judged (its inputs), else the policy's, else the default."""
    if verdict and isinstance(verdict.inputs, dict):
        policy_input = verdict.inputs.get("policy")
        checks = verdict.inputs.get("checks")
        if isinstance(policy_input, dict) and isinstance(policy_input.get("checks"), list):
            checks = policy_input["checks"]
        if isinstance(checks, list) and all(isinstance(c, dict) and "metric" in c for c in checks):
            return checks
    if policy is not None and policy.checks:
        return list(policy.checks)
    return DEFAULT_CHECKS


def _series(deployment) -> dict[str, dict[str, list[tuple[float, float]]]]:
    by_metric: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    rows = (MetricSampleBatch.objects.filter(deployment=deployment).order_by("metric", "cohort", "first_ts", "pk")
            .values_list("metric", "cohort", "samples"))
    for metric, cohort, samples in rows:
        by_metric[metric][cohort].extend((float(t), float(v)) for t, v in samples)
    return by_metric


def judged_breaches(verdict: Verdict | None) -> dict[str, list[dict]]:
    """The breaches the judgement found (the verdict's inputs), by metric: the check's
    comparator, threshold and cohort, and the span that made it a breach."""
    found: dict[str, list[dict]] = defaultdict(list)
    checks = verdict.inputs.get("checks") if verdict and isinstance(verdict.inputs, dict) else None
    for check in checks if isinstance(checks, list) else []:
        if isinstance(check, dict) and check.get("breached") and check.get("breach_start") is not None:
            found[str(check.get("metric"))].append({
                "start": float(check["breach_start"]), "end": float(check["breach_end"]),
                "cohort": check.get("cohort") or "current", "comparator": check.get("comparator", ">"),
                "threshold": float(check.get("threshold", 0))})
    return found


def _whole_run(breach: dict, series: dict[str, list[tuple[float, float]]]) -> tuple[float, float]:
    """The judged breach widened to the whole run of breaching samples it belongs to (the
    judgement stops at the moment the run held long enough; the chart shows how long it lasted)."""
    runs = breach_windows(series.get(breach["cohort"], []), breach["comparator"], breach["threshold"], 0)
    run = next((r for r in runs if r[0] <= breach["start"] <= r[1]), None)
    return (breach["start"], max(breach["end"], run[1])) if run else (breach["start"], breach["end"])


def metric_charts(deployment, checks: list[dict], marker: float | None,
                  judged: dict[str, list[dict]] | None = None) -> list[dict]:
    """One chart per metric. The breach window is the judgement's when the deployment was
    judged, else the one the checks' rule finds in the current cohort."""
    judged = judged or {}
    out = []
    for index, (metric, cohorts) in enumerate(sorted(_series(deployment).items())):
        series = {c: sorted(cohorts[c]) for c in COHORT_ORDER if cohorts.get(c)}
        metric_checks = [c for c in checks if c.get("metric") == metric]
        thresholds, windows = [], []
        for check in metric_checks:
            comparator, threshold = check.get("comparator", ">"), float(check.get("threshold", 0))
            minutes = float(check.get("for_minutes", 0) or 0)
            thresholds.append(charts.Threshold(threshold, f"{comparator} {threshold:g} for {minutes:g} min"))
            if metric not in judged:
                windows += breach_windows(series.get("current", []), comparator, threshold, minutes)
        windows += [_whole_run(b, series) for b in judged.get(metric, [])]
        breach = (min(w[0] for w in windows), max(w[1] for w in windows)) if windows else None
        chart = charts.Chart(metric=metric, series=series, thresholds=thresholds, marker=marker, breach=breach,
                             unit=UNITS.get(metric, ""))
        out.append({
            "metric": metric, "svg": charts.render(chart, chart_id=f"chart-{index}"),
            "legend": [{**item, "count": len(series[item["cohort"]])} for item in charts.legend(series)], "breached": bool(windows),
            "breach_windows": [(datetime.fromtimestamp(a, tz=UTC), datetime.fromtimestamp(b, tz=UTC))
                               for a, b in windows],
            "counts": {c: len(p) for c, p in series.items()},
            "thresholds": thresholds,
        })
    return out


def validation_context(request, deployment) -> dict | None:
    """Everything the sections draw, or None when the deployment has no validation data."""
    verdict = Verdict.objects.filter(deployment=deployment).first()
    decision = (RollbackDecision.objects.filter(deployment=deployment)
                .select_related("incident", "decided_by", "webhook").first())
    check_runs = list(CheckRun.objects.filter(deployment=deployment).order_by("-created_at", "-id")
                      .prefetch_related(Prefetch("results", queryset=CheckResult.objects.order_by("id"))))
    canary = CanaryAnalysis.objects.filter(deployment=deployment).order_by("-created_at", "-id").first()
    review = LogReview.objects.filter(deployment=deployment).select_related("signed_off_by").first()
    new_fingerprints = (list(LogFingerprint.objects.filter(review=review, is_new=True)
                             .order_by("-count", "fingerprint")[:NEW_FINGERPRINTS_SHOWN]) if review else [])
    policy = (HealthPolicy.objects.filter(service_id=deployment.service_id, environment_id=deployment.environment_id)
              .first())
    marker = _ts(deployment.started_at)
    metric_list = metric_charts(deployment, _checks(verdict, policy), marker, judged_breaches(verdict))
    if not (verdict or decision or check_runs or canary or review or metric_list):
        return None
    return {
        "verdict": verdict, "decision": decision, "check_runs": check_runs, "canary": canary, "review": review,
        "new_fingerprints": new_fingerprints, "metrics": metric_list, "policy": policy,
    }


def sections(request, deployment) -> list[dict]:
    data = validation_context(request, deployment)
    if data is None:
        return []
    out = [{"title": "Post-deployment verdict", "template": "validation/sections/verdict.html", "order": 10,
            "anchor": "validation-verdict", "data": data}]
    if data["metrics"]:
        out.append({"title": "Metrics after the deployment", "template": "validation/sections/metrics.html",
                    "order": 11, "anchor": "validation-metrics", "data": data})
    out.append({"title": "Canary analysis", "template": "validation/sections/canary.html", "order": 12,
                "anchor": "validation-canary", "data": data})
    out.append({"title": "Smoke and synthetic checks", "template": "validation/sections/checks.html", "order": 13,
                "anchor": "validation-checks", "data": data})
    out.append({"title": "First-hour log review", "template": "validation/sections/log_review.html", "order": 14,
                "anchor": "validation-logs", "data": data})
    return out
