"""Benchmark: post-deployment validation (issue #14).

500 production deployments validating at once, each posting one sample per metric every 10 s
across 4 metrics (error rate, p95 latency, CPU, saturation), every post stored and judged
through the service (`apps.validation.services.metric_samples_record`: validation, the batch
row, the row lock, the judgement over the validation window, the verdict and its audit event
when it changes). Before the timed rounds each deployment already has PREFILL_MINUTES of
history, stored as the service stores in-order posts (joined into batches of up to
BATCH_MAX_SAMPLES samples), so a judgement reads what it would half an hour into the window.

Prints:
- per post (store + judgement): p50/p95/max, and the ratio to inserting the same batch row with
  raw SQL (one transaction per post) in this process; aim p95 ≤ 20 ms;
- the judgement alone (`verdict_refresh`, no new sample): p50/p95;
- a canary analysis of 2 × 10,000 samples (baseline and canary of one metric), through the
  service (`canary_analysis_run`: read, Mann-Whitney U, classification, the analysis row, its
  history and audit event) and the judge alone, vs `scipy.stats.mannwhitneyu` alone on the
  same arrays; aim ≤ 200 ms.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rp_valbench .venv/bin/python bench/postdeploy.py
    .venv/bin/python bench/postdeploy.py --scale 0.02       # 10 deployments, SQLite under /tmp
    --rounds N    timed 10-second rounds (default 3: 500 × 4 × 3 = 6,000 posts)
    --profile     cProfile of 200 posts, top functions by cumulative time

The posts run one after another in this process, round-robin over the deployments (what a
server sees of 500 pipelines, without the network); the machine is shared, so figures are from
a busy machine. It deletes its own bench deployments' validation rows before filling: use a
database of your own.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("RP_VAR_DIR", "/tmp/rp_bench_postdeploy")
    Path(os.environ["RP_VAR_DIR"]).mkdir(parents=True, exist_ok=True)

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

DEPLOYMENTS = 500
METRICS = ("error_rate_pct", "p95_latency_ms", "cpu_pct", "saturation_pct")
INTERVAL = 10  # seconds between two samples of a metric
PREFILL_MINUTES = 30
CANARY_SAMPLES = 10_000
POLICY = {
    "validation_minutes": 60, "auto_rollback": False, "smoke_required_within_minutes": None,
    "checks": [
        {"metric": "error_rate_pct", "comparator": ">", "threshold": 5, "for_minutes": 5},
        {"metric": "p95_latency_ms", "comparator": ">", "threshold": 800, "for_minutes": 5},
        {"metric": "cpu_pct", "comparator": ">", "threshold": 90, "for_minutes": 10},
        {"metric": "saturation_pct", "comparator": ">", "threshold": 95, "for_minutes": 10},
    ],
    "canary": {"metrics": [{"metric": "p95_latency_ms", "direction": "increase_is_bad", "tolerance_pct": 10}],
               "pass_score": 95, "marginal_score": 75},
}


def say(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def figures(values_ms: list[float]) -> str:
    return (f"p50 {statistics.median(values_ms):.1f} ms, p95 {pct(values_ms, 0.95):.1f} ms, "
            f"max {max(values_ms):.1f} ms (n={len(values_ms)})")


def value_of(metric: str, rng: np.random.Generator) -> float:
    """A healthy reading: nothing breaches, so every post is a full judgement with no rollback."""
    base = {"error_rate_pct": 0.8, "p95_latency_ms": 240.0, "cpu_pct": 45.0, "saturation_pct": 50.0}[metric]
    return round(float(base * rng.uniform(0.7, 1.3)), 3)


def ensure_database() -> None:
    """Create the PostgreSQL database named in DATABASE_URL when it does not exist yet."""
    if connection.vendor != "postgresql":
        return
    import psycopg
    from psycopg import sql

    params = connection.get_connection_params()
    name = connection.settings_dict["NAME"]
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup(count: int):
    """The bench team, 50 services with the policy, a production environment, `count`
    deployments started PREFILL_MINUTES ago, and their earlier posts (one batch row each)."""
    from apps.accounts.models import Team, User
    from apps.accounts.roles import ensure_roles
    from apps.catalog.models import Environment, Service
    from apps.delivery.models import Deployment
    from apps.validation import services
    from apps.validation.models import CanaryAnalysis, MetricSampleBatch, RollbackDecision, Verdict

    ensure_roles()
    team, _ = Team.objects.get_or_create(slug="bench-validation", defaults={"name": "Bench validation"})
    bot, _ = User.objects.get_or_create(username="bench-validation-bot",
                                        defaults={"kind": User.Kind.SERVICE_ACCOUNT, "owner_team": team})
    prod = Environment.objects.filter(slug="prod").first() or Environment.objects.create(
        slug="prod", name="Production", order=30, is_production=True)
    svcs = []
    for i in range(50):
        svc, _ = Service.objects.get_or_create(slug=f"bench-val-{i:02d}", defaults={
            "name": f"Bench validation {i}", "owner_team": team, "tier": 2})
        services.health_policy_set(service=svc, environment=prod, data=POLICY, actor=bot)
        svcs.append(svc)
    old = Deployment.objects.filter(service__in=svcs)
    MetricSampleBatch.objects.filter(deployment__in=old).delete()
    Verdict.objects.filter(deployment__in=old).delete()
    CanaryAnalysis.objects.filter(deployment__in=old).delete()
    if RollbackDecision.objects.filter(deployment__in=old).exists():
        sys.exit("Bench deployments carry rollback decisions (kept as evidence): use a fresh database.")
    now = timezone.now()
    started = now - timedelta(minutes=PREFILL_MINUTES)
    deployments = list(old.order_by("pk")[:count])
    if len(deployments) < count:
        Deployment.objects.bulk_create([
            Deployment(service=svcs[i % len(svcs)], environment=prod, version=f"9.{i}.0", status="succeeded",
                       started_at=started, finished_at=started + timedelta(minutes=2), created_by=bot)
            for i in range(len(deployments), count)])
        deployments = list(old.order_by("pk")[:count])
    Deployment.objects.filter(pk__in=[d.pk for d in deployments]).update(
        started_at=started, finished_at=started + timedelta(minutes=2))
    for d in deployments:
        d.started_at, d.finished_at = started, started + timedelta(minutes=2)

    rng = np.random.default_rng(14)
    t0 = started.timestamp()
    rows = []
    filled = time.perf_counter()
    # stored as the service stores in-order posts: joined into batches of up to BATCH_MAX_SAMPLES
    from apps.validation.services import BATCH_MAX_SAMPLES

    for d in deployments:
        for metric in METRICS:
            history = [[t0 + k * INTERVAL, value_of(metric, rng)] for k in range(PREFILL_MINUTES * 60 // INTERVAL)]
            for start in range(0, len(history), BATCH_MAX_SAMPLES):
                part = history[start:start + BATCH_MAX_SAMPLES]
                rows.append(MetricSampleBatch(deployment=d, metric=metric, cohort="current", samples=part,
                                              count=len(part), first_ts=part[0][0], last_ts=part[-1][0],
                                              created_by=bot))
            if len(rows) >= 20_000:
                MetricSampleBatch.objects.bulk_create(rows, batch_size=5000)
                rows = []
    MetricSampleBatch.objects.bulk_create(rows, batch_size=5000)
    say(f"  prefilled {len(deployments)} deployments × {len(METRICS)} metrics × "
        f"{PREFILL_MINUTES * 60 // INTERVAL} earlier samples (joined batches) in {time.perf_counter() - filled:.1f} s")
    return bot, deployments, rng


def bench_posts(bot, deployments, rng, rounds: int, profile: bool) -> list[tuple]:
    from apps.validation import services

    say(f"\n1. posts: {len(deployments)} deployments × {len(METRICS)} metrics × {rounds} rounds of {INTERVAL} s")
    base = timezone.now().timestamp()
    # one warm-up post per deployment metric set (connections, caches, the first verdict row)
    for d in deployments[:5]:
        services.metric_samples_record(deployment=d, metric=METRICS[0], cohort="current",
                                       samples=[[base - 5, value_of(METRICS[0], rng)]], actor=bot)
    timings: list[float] = []
    posted: list[tuple] = []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    for r in range(rounds):
        ts = base + r * INTERVAL
        for d in deployments:
            for metric in METRICS:
                sample = [[ts, value_of(metric, rng)]]
                if profiler and len(timings) < 200:
                    profiler.enable()
                t = time.perf_counter()
                services.metric_samples_record(deployment=d, metric=metric, cohort="current", samples=sample,
                                               actor=bot)
                timings.append((time.perf_counter() - t) * 1000)
                if profiler:
                    profiler.disable()
                posted.append((d.pk, metric, sample))
    say(f"   post (store + judgement): {figures(timings)}   aim p95 ≤ 20 ms "
        f"→ {'met' if pct(timings, 0.95) <= 20 else 'MISSED'}")
    say(f"   throughput {len(timings) / (sum(timings) / 1000):.0f} posts/s in one process; "
        f"needed in real time: {len(deployments) * len(METRICS) / INTERVAL:.0f} posts/s")
    if profiler:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
        say("   profile of the first 200 posts (cumulative):\n" + out.getvalue())
    return timings, posted


def bench_raw_insert(bot, posted: list[tuple], timings: list[float]) -> None:
    """The same batch rows inserted with hand-written SQL, one transaction each."""
    from apps.validation.models import MetricSampleBatch

    table = MetricSampleBatch._meta.db_table
    now = timezone.now()
    raw: list[float] = []
    sql = (f"INSERT INTO {table} (deployment_id, metric, cohort, samples, count, first_ts, last_ts, source, "
           "created_by_id, created_at) VALUES (%s, %s, 'current', %s, 1, %s, %s, 'pairs', %s, %s)")
    for dep_id, metric, sample in posted:
        t = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [dep_id, metric, json.dumps(sample), sample[0][0], sample[0][0], bot.pk, now])
        raw.append((time.perf_counter() - t) * 1000)
    # leave the judged data as the service wrote it
    MetricSampleBatch.objects.filter(deployment_id__in={p[0] for p in posted}, created_at=now).delete()
    say(f"   raw SQL insert of the same {len(raw)} rows: {figures(raw)}; "
        f"ratio service / raw = {statistics.median(timings) / statistics.median(raw):.1f}× (p50), "
        f"{pct(timings, 0.95) / pct(raw, 0.95):.1f}× (p95)")


def bench_judgement(bot, deployments) -> None:
    from apps.validation import services

    sample = deployments[: min(200, len(deployments))]
    timings = []
    for d in sample:
        t = time.perf_counter()
        with transaction.atomic():
            services.verdict_refresh(deployment=d, actor=bot)
        timings.append((time.perf_counter() - t) * 1000)
    say(f"\n2. judgement alone (verdict_refresh over {PREFILL_MINUTES}+ min of 4 metrics): {figures(timings)}")


def bench_canary(bot, deployment, profile: bool = False) -> None:
    from scipy.stats import mannwhitneyu

    from apps.validation import canary
    from apps.validation.models import MetricSampleBatch

    say(f"\n3. canary analysis of 2 × {CANARY_SAMPLES:,} samples (p95_latency_ms, baseline vs canary)")
    rng = np.random.default_rng(7)
    baseline = np.round(rng.gamma(9.0, 27.0, CANARY_SAMPLES), 1)  # ~240 ms, with ties at 0.1 ms
    canary_values = np.round(rng.gamma(9.0, 28.5, CANARY_SAMPLES), 1)  # ~5 % slower
    start = deployment.started_at.timestamp()
    step = (45 * 60) / CANARY_SAMPLES  # all inside the validation window
    MetricSampleBatch.objects.filter(deployment=deployment, cohort__in=("baseline", "canary")).delete()
    for cohort, values in (("baseline", baseline), ("canary", canary_values)):
        pairs = [[start + i * step, float(v)] for i, v in enumerate(values)]
        for chunk in range(0, len(pairs), 5000):
            part = pairs[chunk:chunk + 5000]
            MetricSampleBatch.objects.create(deployment=deployment, metric="p95_latency_ms", cohort=cohort,
                                             samples=part, count=len(part), first_ts=part[0][0], last_ts=part[-1][0],
                                             created_by=bot)
    service_ms, judge_ms, scipy_ms = [], [], []
    for _ in range(7):
        t = time.perf_counter()
        analysis, judgement = canary.canary_analysis_run(deployment=deployment, actor=bot)
        service_ms.append((time.perf_counter() - t) * 1000)
        b, c = baseline.tolist(), canary_values.tolist()
        t = time.perf_counter()
        canary.judge(POLICY["canary"]["metrics"], {"p95_latency_ms": (b, c)}, pass_score=95, marginal_score=75)
        judge_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        reference = mannwhitneyu(canary_values, baseline, alternative="two-sided", method="auto")
        scipy_ms.append((time.perf_counter() - t) * 1000)
    if profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        canary.canary_analysis_run(deployment=deployment, actor=bot)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
        say("   profile of one canary analysis (cumulative):\n" + out.getvalue())
    metric = analysis.metrics[0]
    say(f"   result {analysis.result}, score {analysis.score:.0f}, U {metric['u']:.1f}, p {metric['p_value']:.3g} "
        f"(scipy alone: U {reference.statistic:.1f} or {CANARY_SAMPLES**2 - reference.statistic:.1f}, "
        f"p {reference.pvalue:.3g}); method {analysis.method}")
    say(f"   service (read 2 × {CANARY_SAMPLES:,} samples, judge, store, audit): {figures(service_ms)}   aim ≤ 200 ms "
        f"→ {'met' if pct(service_ms, 0.95) <= 200 else 'MISSED'}")
    say(f"   judge alone (Mann-Whitney U + medians + classification): {figures(judge_ms)}")
    say(f"   scipy.stats.mannwhitneyu alone on the same arrays: {figures(scipy_ms)}")
    say(f"   ratio service / scipy = {statistics.median(service_ms) / statistics.median(scipy_ms):.1f}×, "
        f"judge / scipy = {statistics.median(judge_ms) / statistics.median(scipy_ms):.1f}× (p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")),
                        help="fraction of the 500 deployments (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="timed 10-second rounds (default 3)")
    parser.add_argument("--profile", action="store_true", help="profile the first 200 posts")
    args = parser.parse_args()
    ensure_database()
    call_command("migrate", verbosity=0)
    from apps.audit.actor import Actor, acting_as

    count = max(5, int(DEPLOYMENTS * args.scale))
    say(f"post-deployment validation benchmark on {connection.vendor}, scale {args.scale}: {count} deployments "
        f"(a shared, busy machine: read the ratios before the absolute figures)")
    with acting_as(Actor.for_command("bench_postdeploy")):
        bot, deployments, rng = setup(count)
        timings, posted = bench_posts(bot, deployments, rng, args.rounds, args.profile)
        bench_raw_insert(bot, posted, timings)
        bench_judgement(bot, deployments)
        bench_canary(bot, deployments[0], args.profile)


if __name__ == "__main__":
    main()
