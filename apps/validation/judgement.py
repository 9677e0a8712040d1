"""The judgement of a deployment after it shipped: pure functions over what selectors read.

The rules (API.md "Post-deployment validation"):

- A threshold check (`metric comparator threshold for for_minutes`) is breached when the
  samples of the `current` or `canary` cohort inside the validation window break it for
  `for_minutes` of *consecutive* samples (Argo Rollouts' failure limit idea): the run starts at
  the first breaking sample and ends at the last; it breaches once `last - first >= for_minutes`.
  A sample that does not break it ends the run, and so does a gap of more than
  `MAX_SAMPLE_GAP_SECONDS` between two samples (two spikes ten minutes apart with nothing
  reported between them are not ten minutes of breach). `baseline` samples are never judged
  against thresholds (they describe the old version).
- The validation window runs from the deployment's start to `validation_minutes` after it
  finished. Samples outside it are kept but not judged.
- Without a health policy the default applies (DEFAULT_POLICY): the seed's rule — error rate
  (`error_rate_pct`) above 5 % for 5 minutes —, a 60-minute window, no smoke requirement, no
  automatic rollback, no canary metrics.
- The change's own `rollback_criteria` are checks too: `error_rate_pct` → `error_rate_pct > x`
  and `p95_latency_ms` → `p95_latency_ms > x`, each for `window_minutes` (default 5).
- Status: `failed` (action `rollback`) on `threshold_breached`, `smoke_failed`, `smoke_missing`
  or `canary_failed`; otherwise `pending` (`wait`) until the window is over, then `passed`
  (`continue`). `canary_marginal` is reported but decides nothing (Kayenta: a person judges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_SAMPLE_GAP_SECONDS = 120
JUDGED_COHORTS = ("current", "canary")
FAILING_CODES = ("threshold_breached", "smoke_failed", "smoke_missing", "canary_failed")

DEFAULT_CHECK = {"metric": "error_rate_pct", "comparator": ">", "threshold": 5.0, "for_minutes": 5}
DEFAULT_POLICY: dict[str, Any] = {
    "validation_minutes": 60,
    "checks": [DEFAULT_CHECK],
    "canary": {"metrics": [], "pass_score": 95.0, "marginal_score": 75.0},
    "smoke_required_within_minutes": None,
    "auto_rollback": False,
}
# rollback_criteria key → the metric its check watches.
CRITERIA_METRICS = {"error_rate_pct": "error_rate_pct", "p95_latency_ms": "p95_latency_ms"}
DEFAULT_CRITERIA_MINUTES = 5


def criteria_checks(criteria: dict | None) -> list[dict]:
    """The change's rollback criteria as threshold checks (marked `"source": "change"`)."""
    criteria = criteria or {}
    try:
        minutes = float(criteria.get("window_minutes") or DEFAULT_CRITERIA_MINUTES)
    except (TypeError, ValueError):
        minutes = DEFAULT_CRITERIA_MINUTES
    checks = []
    for key, metric in CRITERIA_METRICS.items():
        value = criteria.get(key)
        if value in (None, ""):
            continue
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            continue
        checks.append({"metric": metric, "comparator": ">", "threshold": threshold, "for_minutes": minutes,
                       "source": "change"})
    return checks


def _breaks(value: float, comparator: str, threshold: float) -> bool:
    return value > threshold if comparator == ">" else value < threshold


@dataclass
class Run:
    start: float
    end: float
    worst: float
    samples: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


def longest_breach(samples: list[tuple[float, float]], *, comparator: str, threshold: float,
                   needed_seconds: float) -> tuple[Run | None, Run | None]:
    """(the first run that held for `needed_seconds`, or None; the longest run seen). `samples`
    are (ts, value) sorted by ts."""
    longest: Run | None = None
    current: Run | None = None
    last_ts: float | None = None
    for ts, value in samples:
        if current is not None and last_ts is not None and ts - last_ts > MAX_SAMPLE_GAP_SECONDS:
            current = None
        if _breaks(value, comparator, threshold):
            if current is None:
                current = Run(start=ts, end=ts, worst=value, samples=1)
            else:
                current.end = ts
                current.samples += 1
                current.worst = max(current.worst, value) if comparator == ">" else min(current.worst, value)
            if longest is None or current.seconds > longest.seconds:
                longest = Run(current.start, current.end, current.worst, current.samples)
            if current.seconds >= needed_seconds:
                return current, longest
        else:
            current = None
        last_ts = ts
    return None, longest


@dataclass
class Inputs:
    """What the judgement needs, read by selectors.judgement_inputs."""

    policy: dict
    deployment_started_at: datetime
    deployment_finished_at: datetime | None
    # {(metric, cohort): [(ts, value), …] sorted}
    series: dict[tuple[str, str], list[tuple[float, float]]]
    # [{"kind", "failed", "total", "created_at"}] newest first
    check_runs: list[dict]
    canary: dict | None
    now: datetime
    rolled_back: bool = False


@dataclass
class Judgement:
    status: str
    action: str
    reasons: list[dict] = field(default_factory=list)
    window_start: datetime | None = None
    window_end: datetime | None = None
    snapshot: dict = field(default_factory=dict)

    @property
    def reason_codes(self) -> list[str]:
        return [r["code"] for r in self.reasons]

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def window_of(policy: dict, started_at: datetime, finished_at: datetime | None) -> tuple[datetime, datetime | None]:
    end = finished_at + timedelta(minutes=policy["validation_minutes"]) if finished_at else None
    return started_at, end


def _fmt(ts: float) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S")


def judge(inputs: Inputs) -> Judgement:
    policy = inputs.policy
    start, end = window_of(policy, inputs.deployment_started_at, inputs.deployment_finished_at)
    lo = start.timestamp()
    hi = end.timestamp() if end else inputs.now.timestamp() + 300
    reasons: list[dict] = []
    check_results = []
    for check in policy["checks"]:
        needed = float(check["for_minutes"]) * 60
        result = {**check, "breached": False, "longest_seconds": 0.0, "samples": 0}
        for cohort in JUDGED_COHORTS:
            samples = [s for s in inputs.series.get((check["metric"], cohort), ()) if lo <= s[0] <= hi]
            result["samples"] += len(samples)
            breach, longest = longest_breach(samples, comparator=check["comparator"], threshold=float(check["threshold"]),
                                             needed_seconds=needed)
            if longest is not None and longest.seconds > result["longest_seconds"]:
                result["longest_seconds"] = longest.seconds
            if breach is not None and not result["breached"]:
                result.update(breached=True, cohort=cohort, breach_start=breach.start, breach_end=breach.end,
                              worst=breach.worst)
                reasons.append({"code": "threshold_breached", "message": (
                    f"{check['metric']} {check['comparator']} {check['threshold']:g} held for "
                    f"{breach.seconds / 60:.1f} min in the {cohort} cohort (from {_fmt(breach.start)} to "
                    f"{_fmt(breach.end)} UTC, worst {breach.worst:g}); the limit is {float(check['for_minutes']):g} min"
                    + (" (the change's rollback criteria)" if check.get("source") == "change" else "") + ".")})
        check_results.append(result)

    smoke_runs = [r for r in inputs.check_runs if r["kind"] == "smoke"]
    synthetic_runs = [r for r in inputs.check_runs if r["kind"] == "synthetic"]
    if smoke_runs and smoke_runs[0]["failed"]:
        reasons.append({"code": "smoke_failed", "message": f"The latest smoke run failed {smoke_runs[0]['failed']} of "
                                                            f"{smoke_runs[0]['total']} tests."})
    if synthetic_runs and synthetic_runs[0]["failed"]:
        reasons.append({"code": "smoke_failed", "message": f"The latest synthetic transactions failed "
                                                            f"{synthetic_runs[0]['failed']} of {synthetic_runs[0]['total']}."})
    within = policy.get("smoke_required_within_minutes")
    if within is not None and inputs.deployment_finished_at is not None:
        due = inputs.deployment_finished_at + timedelta(minutes=within)
        in_time = [r for r in smoke_runs if r["created_at"] <= due]
        if not in_time and inputs.now > due:
            reasons.append({"code": "smoke_missing", "message": f"No smoke tests were reported within {within} min "
                                                                 "after the deployment finished."})
    canary = inputs.canary
    if canary is not None:
        if canary["result"] == "fail":
            reasons.append({"code": "canary_failed", "message": f"Canary analysis failed (score {canary['score']:.0f})."})
        elif canary["result"] == "marginal":
            reasons.append({"code": "canary_marginal",
                            "message": f"Canary analysis was marginal (score {canary['score']:.0f}): a person decides."})

    failing = any(r["code"] in FAILING_CODES for r in reasons) or inputs.rolled_back
    if failing:
        status, action = "failed", "rollback"
    elif end is None or inputs.now < end:
        status, action = "pending", "wait"
    else:
        status, action = "passed", "continue"
    snapshot = {
        "policy": policy,
        "window": {"start": start.isoformat(), "end": end.isoformat() if end else None},
        "checks": check_results,
        "check_runs": [{**r, "created_at": r["created_at"].isoformat()} for r in inputs.check_runs[:10]],
        "canary": {k: canary[k] for k in ("id", "result", "score")} if canary else None,
        "series": {f"{m}/{c}": len(s) for (m, c), s in sorted(inputs.series.items())},
    }
    return Judgement(status=status, action=action, reasons=reasons, window_start=start, window_end=end,
                     snapshot=snapshot)
