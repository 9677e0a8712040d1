"""The validation evidence of deployments, as plain JSON: what evidence packs write beside a
deployment (apps/audit/packs) and what the automatic rollback's incident keeps as its preserved
state (a metric snapshot attachment).

Per deployment: the verdict (status, action, reasons, window, when), the judgement inputs (the
policy applied, per check what it saw), the rollback decision, the latest canary analysis, the
smoke/synthetic runs, the log review, and the samples as a digest and a summary per
(metric, cohort): count, first/last time, min/median/p95/max and the SHA-256 of the samples in
canonical JSON — so the samples can be proven unchanged without copying them all.

`snapshots_for(ids)` reads any number of deployments in a fixed number of queries."""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .models import CanaryAnalysis, CheckRun, LogReview, MetricSampleBatch, RollbackDecision, Verdict

FORMAT = "release-portal-validation-evidence/1"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def _quantile(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def sample_summary(samples: list[list[float]]) -> dict[str, Any]:
    """Count, time span, min/median/p95/max and the SHA-256 of `samples` ([[ts, value], …],
    sorted by time) in canonical JSON."""
    samples = sorted(([float(t), float(v)] for t, v in samples), key=lambda s: s[0])
    values = sorted(v for _, v in samples)
    summary: dict[str, Any] = {"count": len(samples), "sha256": hashlib.sha256(canonical(samples)).hexdigest()}
    if samples:
        mid = len(values) // 2
        median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        summary.update(first_ts=samples[0][0], last_ts=samples[-1][0], min=values[0], median=median,
                       p95=_quantile(values, 0.95), max=values[-1])
    return summary


def snapshots_for(deployment_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """{deployment id: evidence} for the deployments that have any validation record (seven
    queries whatever the number of deployments and samples)."""
    ids = sorted({int(i) for i in deployment_ids if i})
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = defaultdict(lambda: {"format": FORMAT})

    for v in Verdict.objects.filter(deployment_id__in=ids).values(
            "deployment_id", "status", "action", "reasons", "inputs", "window_start", "window_end", "judged_at"):
        out[v["deployment_id"]]["verdict"] = {
            "status": v["status"], "action": v["action"], "reasons": v["reasons"], "window_start": _time(v["window_start"]),
            "window_end": _time(v["window_end"]), "judged_at": _time(v["judged_at"])}
        out[v["deployment_id"]]["judgement_inputs"] = v["inputs"]
    for d in RollbackDecision.objects.filter(deployment_id__in=ids).values(
            "deployment_id", "id", "trigger", "reasons", "incident_id", "change_id", "webhook_status", "decided_at",
            "decided_by__username"):
        out[d["deployment_id"]]["rollback_decision"] = {
            "id": d["id"], "trigger": d["trigger"], "reasons": d["reasons"], "incident": d["incident_id"],
            "change": d["change_id"], "webhook_status": d["webhook_status"], "decided_at": _time(d["decided_at"]),
            "decided_by": d["decided_by__username"]}
    seen_canary: set[int] = set()
    for c in CanaryAnalysis.objects.filter(deployment_id__in=ids).order_by("deployment_id", "-created_at", "-id").values(
            "deployment_id", "id", "method", "metrics", "score", "result", "pass_score", "marginal_score", "config",
            "created_at"):
        if c["deployment_id"] in seen_canary:
            continue  # the latest one decides
        seen_canary.add(c["deployment_id"])
        dep = c.pop("deployment_id")
        out[dep]["canary_analysis"] = {**c, "created_at": _time(c["created_at"])}
    for r in CheckRun.objects.filter(deployment_id__in=ids).order_by("deployment_id", "created_at", "id").values(
            "deployment_id", "id", "kind", "source", "total", "passed", "failed", "skipped", "sha256", "created_at"):
        dep = r.pop("deployment_id")
        out[dep].setdefault("check_runs", []).append({**r, "created_at": _time(r["created_at"])})
    for lr in LogReview.objects.filter(deployment_id__in=ids).values(
            "deployment_id", "status", "sign_off_required", "total_fingerprints", "new_fingerprints",
            "signed_off_by__username", "signed_off_at"):
        dep = lr.pop("deployment_id")
        out[dep]["log_review"] = {**lr, "signed_off_at": _time(lr["signed_off_at"])}

    series: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    batches: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for dep, metric, cohort, samples in (MetricSampleBatch.objects.filter(deployment_id__in=ids)
                                         .order_by("deployment_id", "metric", "cohort", "first_ts", "id")
                                         .values_list("deployment_id", "metric", "cohort", "samples")):
        series[dep][f"{metric}/{cohort}"].extend(samples)
        batches[dep][f"{metric}/{cohort}"] += 1
    for dep, by_key in series.items():
        out[dep]["samples"] = {key: {**sample_summary(values), "batches": batches[dep][key]}
                               for key, values in sorted(by_key.items())}
    return {dep: dict(value) for dep, value in sorted(out.items())}


def verdict_snapshot(deployment) -> dict[str, Any]:
    """The evidence of one deployment (the incident's preserved state at a rollback)."""
    snapshot = snapshots_for([deployment.pk]).get(deployment.pk, {"format": FORMAT})
    return {"deployment": deployment.pk, **snapshot}


def verdict_snapshot_text(deployment) -> str:
    """The same, as the text of an incident's metric snapshot attachment."""
    return json.dumps(verdict_snapshot(deployment), sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"
