"""Demo post-deployment validation, made through the services (so the verdicts, the canary
analyses, the rollback decision and its incident carry their history rows and audit events):

- payments-api: healthy metrics, smoke tests passed, a canary that passed;
- checkout: a marginal canary (one of four metrics slower: a person decides);
- auth-service: error rate at 7 % for eight minutes under a health policy with automatic
  rollback: a failed verdict, a rollback decision, the incident linked to the deployment, a
  failed smoke test and new log fingerprints;
- web-store: healthy metrics and smoke tests.

Each is the service's latest succeeded production deployment from the delivery demo (it carries
its gate decision and change), so the times sit among the demo's deployments: samples every
30 s for the first hour after each deployment started. Idempotent: once any verdict exists it
does nothing."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import timedelta

from apps.delivery.models import Deployment

from .models import Verdict

CANARY_METRICS = [
    {"metric": "p95_latency_ms", "direction": "increase_is_bad", "tolerance_pct": 10},
    {"metric": "error_rate_pct", "direction": "increase_is_bad", "tolerance_pct": 20},
    {"metric": "cpu_pct", "direction": "increase_is_bad", "tolerance_pct": 15},
    {"metric": "saturation_pct", "direction": "increase_is_bad", "tolerance_pct": 15},
]
BASE = {"p95_latency_ms": 240.0, "error_rate_pct": 0.6, "cpu_pct": 42.0, "saturation_pct": 48.0}
CHECKS = [
    {"metric": "error_rate_pct", "comparator": ">", "threshold": 5, "for_minutes": 5},
    {"metric": "p95_latency_ms", "comparator": ">", "threshold": 800, "for_minutes": 5},
]
STEP = 30  # seconds between samples
SAMPLES = 120  # an hour


def _policy(*, auto_rollback: bool) -> dict:
    return {"validation_minutes": 60, "checks": CHECKS, "smoke_required_within_minutes": None,
            "auto_rollback": auto_rollback,
            "canary": {"metrics": CANARY_METRICS, "pass_score": 95, "marginal_score": 75}}


def _wave(i: int, rng, base: float) -> float:
    return round(base * (1 + 0.08 * math.sin(i / 7) + rng.uniform(-0.05, 0.05)), 3)


def _series(deployment, metric: str, rng, *, factor: float = 1.0, breach: tuple[int, int] | None = None,
            value: float | None = None) -> list[list[float]]:
    t0 = deployment.started_at.timestamp()
    out = []
    for i in range(SAMPLES):
        v = _wave(i, rng, BASE[metric] * factor)
        if breach and breach[0] <= i < breach[1]:
            v = value if value is not None else v
        out.append([t0 + STEP * i, v])
    return out


def _latest(service, prod) -> Deployment | None:
    return (Deployment.objects.filter(service=service, environment=prod, status="succeeded", kind="normal",
                                      finished_at__isnull=False)
            .select_related("service", "environment", "change", "artifact").order_by("-started_at", "-pk").first())


def _smoke(deployment, *, failed: int, bot) -> None:
    from . import services

    names = ["GET /health", "POST /login", "GET /catalog", "POST /checkout (synthetic card)", "GET /orders"]
    results = [{"name": n, "status": "failed" if i < failed else "passed", "duration_ms": 80 + 17 * i,
                "message": "HTTP 500 after 3 retries" if i < failed else ""} for i, n in enumerate(names)]
    body = json.dumps({"results": results}, sort_keys=True).encode()
    services.check_run_record(deployment=deployment, kind="smoke", results=results, source="json",
                              sha256=hashlib.sha256(body).hexdigest(), actor=bot)


def _post(deployment, metric: str, cohort: str, samples, bot) -> None:
    from . import services

    services.metric_samples_record(deployment=deployment, metric=metric, cohort=cohort, samples=samples, actor=bot)


def seed(ctx) -> None:
    from apps.accounts.models import User

    from . import services
    from .canary import canary_analysis_run

    if Verdict.objects.exists():
        ctx.say("validation already seeded")
        return
    prod = ctx.environments.get("prod")
    bot = ctx.users.get("ci-bot") or User.objects.filter(username="ci-bot").first()
    if prod is None or bot is None:
        return
    rng = ctx.rng
    picked = {slug: _latest(ctx.services[slug], prod) for slug in ("payments-api", "checkout", "auth-service", "web-store")
              if slug in ctx.services}
    picked = {slug: d for slug, d in picked.items() if d is not None}
    for slug, deployment in picked.items():
        services.health_policy_set(service=deployment.service, environment=prod,
                                   data=_policy(auto_rollback=slug == "auth-service"), actor=bot)

    made = []
    for slug, deployment in picked.items():
        canary_slower = {"checkout": {"p95_latency_ms": 1.35}}.get(slug, {})
        for metric in BASE:
            if slug == "auth-service" and metric == "error_rate_pct":
                # 7 % from minute 10 to minute 18: held past the 5-minute limit
                current = _series(deployment, metric, rng, breach=(20, 36), value=7.0)
            else:
                current = _series(deployment, metric, rng)
            _post(deployment, metric, "current", current, bot)
            if slug in ("payments-api", "checkout"):
                _post(deployment, metric, "baseline", _series(deployment, metric, rng), bot)
                _post(deployment, metric, "canary",
                      _series(deployment, metric, rng, factor=canary_slower.get(metric, 1.0)), bot)
        _smoke(deployment, failed=2 if slug == "auth-service" else 0, bot=bot)
        if slug in ("payments-api", "checkout"):
            canary_analysis_run(deployment=deployment, actor=bot)
            services.verdict_refresh(deployment=deployment, actor=bot)
        if slug == "auth-service":
            _log_review(deployment, bot)
        made.append(slug)
    ctx.say(f"validation for {len(made)} production deployments ({', '.join(made)})")


def _log_review(deployment, bot) -> None:
    from .logreview import clean_entries, log_review_record

    at = deployment.started_at
    entries = clean_entries([
        {"fingerprint": "a1f3c9e07b2d", "message": "TokenSigner: key id 'k-2026-11' not found", "count": 1843,
         "first_seen": (at + timedelta(minutes=9)).isoformat()},
        {"fingerprint": "5d0e8b7c41aa", "message": "SessionStore timeout after 2000 ms", "count": 312,
         "first_seen": (at + timedelta(minutes=11)).isoformat()},
        {"fingerprint": "0c9d1e2f3a4b", "message": "GET /health 200", "count": 7200,
         "first_seen": (at + timedelta(minutes=1)).isoformat()},
    ])
    log_review_record(deployment=deployment, entries=entries, actor=bot)
