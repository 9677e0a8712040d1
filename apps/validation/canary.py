"""The canary judge (issue #14): Kayenta's semantics on scipy's Mann-Whitney U.

Per canary metric of the health policy, the `canary` cohort's samples are compared with the
`baseline` cohort's by a two-sided Mann-Whitney U test (`scipy.stats.mannwhitneyu`). The method
is chosen exactly as scipy's `method="auto"` chooses it, then passed to scipy explicitly, so the
result names the method that produced the p-value:

- `exact`: both cohorts small (at least one has 8 samples or fewer) and no tied values in the
  pooled samples: the exact distribution of U.
- `asymptotic`: otherwise: the normal approximation with the tie correction of the variance
  and the continuity correction (what the API contract calls "tie-corrected normal
  approximation with continuity correction").

Classification of one metric (`pass` | `high` | `low`):

- `effect_pct` = (canary median − baseline median) / |baseline median| × 100. With a baseline
  median of 0 it is 0 when the canary median is 0 too, and otherwise undefined (`null`): any
  move away from zero counts as exceeding every tolerance, in the direction of its sign.
- The difference is *significant* when p < ALPHA (0.05).
- `direction: increase_is_bad` (latency, error rate): `high` when significant and the effect
  is above +tolerance_pct; else `pass`. A significant decrease is a good change and passes.
- `direction: decrease_is_bad` (throughput, success rate): `low` when significant and the
  effect is below −tolerance_pct; else `pass`. A significant increase passes.
  "Above"/"below" are strict: an effect exactly at the tolerance passes.

Score = per cent of metrics classified `pass` (rounded to two decimals). Result: `pass` when
score ≥ pass_score, `marginal` when score ≥ marginal_score, else `fail` (Kayenta's thresholds).
Identical cohorts (all values tied) give U = n·m/2 and p = 1: they pass, nothing divides by zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Unprocessable

from .models import CanaryAnalysis, Cohort, MetricSampleBatch
from .selectors import effective_policy
from .services import verdict_refresh

ALPHA = 0.05
TEST_NAME = "mann_whitney_u_two_sided"
EXACT, ASYMPTOTIC = "exact", "asymptotic"
PASS, HIGH, LOW = "pass", "high", "low"
INCREASE_IS_BAD, DECREASE_IS_BAD = "increase_is_bad", "decrease_is_bad"
DIRECTIONS = (INCREASE_IS_BAD, DECREASE_IS_BAD)
RESULT_PASS, RESULT_MARGINAL, RESULT_FAIL = "pass", "marginal", "fail"
# scipy's rule (scipy/stats/_mannwhitneyu.py `_mwu_choose_method`): exact only when a cohort has
# at most this many samples and the pooled samples hold no ties.
EXACT_MAX_N = 8


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    u: float
    p_value: float
    method: str
    baseline_median: float
    canary_median: float
    effect_pct: float | None
    significant: bool
    classification: str
    direction: str
    tolerance_pct: float
    baseline_count: int
    canary_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "u": self.u, "p_value": self.p_value, "method": self.method,
            "baseline_median": self.baseline_median, "canary_median": self.canary_median,
            "effect_pct": self.effect_pct, "significant": self.significant, "classification": self.classification,
            "direction": self.direction, "tolerance_pct": self.tolerance_pct,
            "baseline_count": self.baseline_count, "canary_count": self.canary_count,
        }


@dataclass(frozen=True)
class Judgement:
    metrics: list[MetricComparison]
    score: float
    result: str
    pass_score: float
    marginal_score: float
    duration_ms: float

    @property
    def method(self) -> str:
        return TEST_NAME

    def as_dict(self) -> dict[str, Any]:
        return {"metrics": [m.as_dict() for m in self.metrics], "method": self.method, "alpha": ALPHA,
                "score": self.score, "result": self.result, "pass_score": self.pass_score,
                "marginal_score": self.marginal_score}


def choose_method(baseline: np.ndarray, canary: np.ndarray) -> str:
    """The method scipy's `method="auto"` would use for these samples."""
    if len(baseline) > EXACT_MAX_N and len(canary) > EXACT_MAX_N:
        return ASYMPTOTIC
    pooled = np.concatenate([baseline, canary])
    if len(np.unique(pooled)) < len(pooled):
        return ASYMPTOTIC
    return EXACT


def effect_pct(baseline_median: float, canary_median: float) -> float | None:
    if baseline_median == 0:
        return 0.0 if canary_median == 0 else None
    return (canary_median - baseline_median) / abs(baseline_median) * 100.0


def classify(*, significant: bool, effect: float | None, baseline_median: float, canary_median: float,
             direction: str, tolerance_pct: float) -> str:
    if not significant:
        return PASS
    if effect is None:  # baseline median 0, canary median not: beyond every tolerance, by its sign
        rising = canary_median > baseline_median
        beyond_up = beyond_down = True
    else:
        rising = effect > 0
        beyond_up, beyond_down = effect > tolerance_pct, effect < -tolerance_pct
    if direction == INCREASE_IS_BAD and rising and beyond_up:
        return HIGH
    if direction == DECREASE_IS_BAD and not rising and beyond_down:
        return LOW
    return PASS


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def compare(metric: str, baseline: Sequence[float], canary: Sequence[float], *, direction: str,
            tolerance_pct: float, alpha: float = ALPHA) -> MetricComparison:
    """One metric: both cohorts must hold at least one sample (the caller says which is empty)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    x = np.asarray(canary, dtype=float)
    y = np.asarray(baseline, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("both cohorts need samples")
    method = choose_method(y, x)
    result = mannwhitneyu(x, y, alternative="two-sided", use_continuity=True, method=method)
    u, p = float(result.statistic), float(result.pvalue)
    if math.isnan(p):  # cannot happen for finite samples with both cohorts present; be safe
        p = 1.0
    baseline_median, canary_median = float(np.median(y)), float(np.median(x))
    effect = effect_pct(baseline_median, canary_median)
    significant = p < alpha
    return MetricComparison(
        metric=metric, u=u, p_value=p, method=method, baseline_median=baseline_median, canary_median=canary_median,
        effect_pct=None if effect is None else _finite(effect), significant=significant,
        classification=classify(significant=significant, effect=effect, baseline_median=baseline_median,
                                canary_median=canary_median, direction=direction, tolerance_pct=tolerance_pct),
        direction=direction, tolerance_pct=float(tolerance_pct), baseline_count=int(y.size), canary_count=int(x.size),
    )


def score_of(classifications: Iterable[str]) -> float:
    values = list(classifications)
    if not values:
        return 0.0
    return round(100.0 * sum(1 for c in values if c == PASS) / len(values), 2)


def result_of(score: float, *, pass_score: float, marginal_score: float) -> str:
    if score >= pass_score:
        return RESULT_PASS
    if score >= marginal_score:
        return RESULT_MARGINAL
    return RESULT_FAIL


def judge(config: Sequence[dict], samples: dict[str, tuple[Sequence[float], Sequence[float]]], *,
          pass_score: float, marginal_score: float) -> Judgement:
    """`config`: the policy's canary metrics `[{"metric", "direction", "tolerance_pct"}]`;
    `samples[metric] = (baseline values, canary values)`, each non-empty."""
    started = time.perf_counter()
    metrics = [compare(item["metric"], *samples[item["metric"]], direction=item["direction"],
                       tolerance_pct=float(item.get("tolerance_pct") or 0)) for item in config]
    score = score_of(m.classification for m in metrics)
    return Judgement(metrics=metrics, score=score,
                     result=result_of(score, pass_score=pass_score, marginal_score=marginal_score),
                     pass_score=float(pass_score), marginal_score=float(marginal_score),
                     duration_ms=(time.perf_counter() - started) * 1000)


# --- the service: run the judge on a deployment's samples, keep the result as evidence ---------

def _window(deployment, validation_minutes: int) -> tuple[float, float]:
    start = deployment.started_at.timestamp()
    return start, start + validation_minutes * 60


def canary_config(deployment) -> dict[str, Any]:
    """The canary part of the deployment's effective health policy, and its window (one query)."""
    policy = effective_policy(deployment)
    canary = policy["canary"]
    return {"metrics": list(canary.get("metrics") or []), "pass_score": float(canary["pass_score"]),
            "marginal_score": float(canary["marginal_score"]),
            "validation_minutes": int(policy["validation_minutes"])}


def cohort_values(deployment, metrics: list[str], window: tuple[float, float]) -> dict[tuple[str, str], list[float]]:
    """(metric, cohort) -> values of the baseline and canary samples inside the validation window,
    in one query. Samples outside the window are kept by the store but not judged. The order of
    the values does not matter to the test, so batches are not sorted: a batch wholly inside the
    window is taken as it is, one that straddles an edge sample by sample."""
    start, end = window
    values: dict[tuple[str, str], list[float]] = {}
    rows = (MetricSampleBatch.objects
            .filter(deployment_id=deployment.pk, metric__in=metrics, cohort__in=[Cohort.BASELINE, Cohort.CANARY],
                    last_ts__gte=start, first_ts__lte=end)
            .values_list("metric", "cohort", "first_ts", "last_ts", "samples"))
    for metric, cohort, first_ts, last_ts, samples in rows:
        bucket = values.setdefault((metric, cohort), [])
        if start <= first_ts and last_ts <= end:
            bucket.extend([sample[1] for sample in samples])
        else:
            bucket.extend([sample[1] for sample in samples if start <= sample[0] <= end])
    return values


def canary_analysis_run(*, deployment, actor: Any):
    """Compare the canary cohort with the baseline for every canary metric of the policy and record
    the result (a CanaryAnalysis, its history row and one audit event, in one transaction), then
    refresh the deployment's verdict, which reads the latest analysis.

    422 `canary_not_configured` when the policy names no canary metric; 422 `canary_samples_missing`
    naming the cohort (and the metrics) that has no sample in the window."""
    config = canary_config(deployment)
    metrics = config["metrics"]
    if not metrics:
        raise Unprocessable(f"The health policy of {deployment.service.slug} in {deployment.environment.slug} "
                            "names no canary metric.", code="canary_not_configured",
                            fields={"canary.metrics": ["No canary metric is configured."]})
    names = [item["metric"] for item in metrics]
    values = cohort_values(deployment, names, _window(deployment, config["validation_minutes"]))
    missing: dict[str, list[str]] = {}
    for cohort in ("baseline", "canary"):
        empty = [name for name in names if not values.get((name, cohort))]
        if empty:
            missing[cohort] = [f"No {cohort} samples in the validation window for: {', '.join(empty)}."]
    if missing:
        raise Unprocessable("Canary analysis needs samples of both cohorts: "
                            + " ".join(message for messages in missing.values() for message in messages),
                            code="canary_samples_missing", fields=missing)
    judgement = judge(metrics, {name: (values[(name, "baseline")], values[(name, "canary")]) for name in names},
                      pass_score=config["pass_score"], marginal_score=config["marginal_score"])
    with atomic_as(actor) as resolved:
        analysis = CanaryAnalysis(
            deployment=deployment, artifact_id=deployment.artifact_id, method=judgement.method,
            metrics=[m.as_dict() for m in judgement.metrics], score=judgement.score, result=judgement.result,
            pass_score=judgement.pass_score, marginal_score=judgement.marginal_score,
            config={"metrics": metrics, "alpha": ALPHA, "validation_minutes": config["validation_minutes"]},
            duration_ms=judgement.duration_ms, created_by=resolved.user,
        )
        history_stamp(analysis, resolved)
        analysis.save()
        audit_event_record(action="validation.canary_analysed", target=analysis, actor=resolved, details={
            "deployment": deployment.pk, "artifact": deployment.artifact.digest if deployment.artifact_id else "",
            "result": judgement.result, "score": judgement.score, "method": judgement.method,
            "metrics": {m.metric: m.classification for m in judgement.metrics},
        })
        # The verdict reads the latest analysis: canary_failed / canary_marginal reach it now.
        verdict_refresh(deployment=deployment, actor=resolved)
    return analysis, judgement
