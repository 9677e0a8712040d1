"""DORA metrics benchmark: a synthetic year for 50 teams / 500 services on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_reports .venv/bin/python bench/dora.py
    BENCH_SCALE=0.01 ... for a quick run (scales deployments, commits and incidents)

Generates (with generate_series, in the database) 1,000,000 production deployments, 3,000,000
commits (one in three re-ships an earlier commit of the same service) and 20,000 incidents
(30 % linked explicitly, the rest inferred), then prints:
  - the time to compute the monthly metrics (12-month trend) for the organisation and every team,
  - the time of one hand-written SQL aggregate over the same rows, and the ratio,
  - peak memory (max RSS of the process) and the PDF render time,
  - the metric snapshots: the time to fill the 13 closed months (organisation, teams, services),
    then GET /api/v1/reports/dora/ and the dashboard served from them (p50 / p95, queries).
It truncates the deployment, commit and incident tables of the database it runs against: use
your own database.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
TEAMS, SERVICES = 50, 500
DEPLOYMENTS = max(1000, int(1_000_000 * SCALE))
INCIDENTS = max(20, int(20_000 * SCALE))
YEAR_START = "2025-11-01 00:00:00+00"  # twelve months: Nov 2025 - Oct 2026
REPORT_MONTH = "2026-10"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fill_missing(table: str, given: list[str]) -> tuple[list[str], list[str]]:
    """NOT NULL columns without a default that the generator does not set (other apps add
    fields over time): give them a neutral value of their type."""
    with connection.cursor() as cur:
        cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                    "AND is_nullable = 'NO' AND column_default IS NULL", [table])
        rows = cur.fetchall()
    neutral = {"boolean": "false", "integer": "0", "bigint": "0", "smallint": "0", "jsonb": "'{}'::jsonb",
               "timestamp with time zone": "now()", "date": "current_date", "double precision": "0"}
    cols, vals = [], []
    for name, dtype in rows:
        if name not in given:
            cols.append(name)
            vals.append(neutral.get(dtype, "''"))
    return cols, vals


def generate() -> None:
    from apps.accounts.models import Team
    from apps.catalog.models import Environment, Service

    call_command("migrate", verbosity=0)
    # Written without a history row, like every other row of the bench: a production flag
    # written within snapshots.MARGIN before the fill reaches every snapshot, so the fill would
    # store and drop them all again (a fresh database printed "0 rows", and the "cached"
    # requests recomputed the whole history every time).
    prod = Environment.objects.filter(is_production=True).first() or Environment.objects.bulk_create([Environment(
        slug="prod", name="Production", order=30, is_production=True)])[0]
    teams = {t.slug: t for t in Team.objects.filter(slug__startswith="bench-team-")}
    missing = [Team(slug=f"bench-team-{i:02d}", name=f"Bench team {i:02d}") for i in range(TEAMS)
               if f"bench-team-{i:02d}" not in teams]
    Team.objects.bulk_create(missing)
    teams = {t.slug: t for t in Team.objects.filter(slug__startswith="bench-team-")}
    have = set(Service.objects.filter(slug__startswith="bench-svc-").values_list("slug", flat=True))
    Service.objects.bulk_create([
        Service(slug=f"bench-svc-{i:03d}", name=f"Bench service {i:03d}", owner_team=teams[f"bench-team-{i % TEAMS:02d}"])
        for i in range(SERVICES) if f"bench-svc-{i:03d}" not in have])
    svc_ids = list(Service.objects.filter(slug__startswith="bench-svc-").order_by("slug").values_list("pk", flat=True))
    svc_array = "ARRAY[" + ",".join(str(i) for i in svc_ids) + "]::bigint[]"
    n, s = DEPLOYMENTS, len(svc_ids)

    with connection.cursor() as cur:
        cur.execute("TRUNCATE delivery_deploymentcommit, delivery_deployment, incidents_incident RESTART IDENTITY CASCADE")
        cur.execute("SELECT setseed(0.42)")
        given = ["id", "service_id", "environment_id", "version", "status", "kind", "started_at", "finished_at",
                 "pipeline_run_id", "pipeline_url", "is_unauthorized", "created_at"]
        extra_cols, extra_vals = _fill_missing("delivery_deployment", given)
        cur.execute(f"""
            INSERT INTO delivery_deployment ({", ".join(given + extra_cols)})
            SELECT g, ({svc_array})[1 + g % {s}], {prod.pk}, '',
                   CASE WHEN r1 < 0.90 THEN 'succeeded' WHEN r1 < 0.97 THEN 'failed' ELSE 'rolled_back' END,
                   CASE WHEN r2 < 0.95 THEN 'normal' WHEN r2 < 0.99 THEN 'hotfix' ELSE 'rollback' END,
                   fin - interval '12 minutes', fin, '', '', r3 < 0.002, fin
                   {"".join(", " + v for v in extra_vals)}
            FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3,
                         timestamptz '{YEAR_START}' + (g::float8 / {n}) * interval '364 days'
                             + random() * interval '1 hour' AS fin
                  FROM generate_series(1, {n}) AS g) AS src
        """)
        given_c = ["deployment_id", "sha", "authored_at"]
        extra_cols, extra_vals = _fill_missing("delivery_deploymentcommit", given_c + ["id"])
        cur.execute(f"""
            INSERT INTO delivery_deploymentcommit ({", ".join(given_c + extra_cols)})
            SELECT d.id,
                   CASE WHEN k = 3 AND d.id > {s} THEN md5((d.id - {s})::text || '-1') ELSE md5(d.id::text || '-' || k) END,
                   d.finished_at - CASE WHEN random() < 0.005 THEN interval '-1 hour'
                                        ELSE random() * interval '72 hours' END
                   {"".join(", " + v for v in extra_vals)}
            FROM delivery_deployment d CROSS JOIN generate_series(1, 3) AS k
        """)
        given_i = ["service_id", "title", "severity", "status", "started_at", "resolved_at", "caused_by_deployment_id",
                   "created_at"]
        extra_cols, extra_vals = _fill_missing("incidents_incident", given_i + ["id"])
        cur.execute(f"""
            INSERT INTO incidents_incident ({", ".join(given_i + extra_cols)})
            SELECT d.service_id, 'bench incident', 'sev3', CASE WHEN r2 < 0.03 THEN 'open' ELSE 'resolved' END,
                   st, CASE WHEN r2 < 0.03 THEN NULL ELSE st + random() * interval '8 hours' END,
                   CASE WHEN r1 < 0.3 THEN d.id END, st
                   {"".join(", " + v for v in extra_vals)}
            FROM (SELECT 1 + floor(random() * {n})::bigint AS dep, random() AS r1, random() AS r2
                  FROM generate_series(1, {INCIDENTS})) AS pick
            JOIN delivery_deployment d ON d.id = pick.dep
            CROSS JOIN LATERAL (SELECT d.finished_at + random() * interval '6 hours' AS st) AS t
        """)
        cur.execute("SELECT setval(pg_get_serial_sequence('delivery_deployment', 'id'), (SELECT max(id) FROM delivery_deployment))")
        cur.execute("ANALYZE delivery_deployment; ANALYZE delivery_deploymentcommit; ANALYZE incidents_incident")
    from apps.reports.models import MetricSnapshot

    MetricSnapshot.objects.all().delete()  # the rows were replaced behind the history's back


SQL_BASELINE = """
WITH d AS (
    SELECT d.id, s.owner_team_id AS team, d.status, d.kind, d.finished_at,
           date_trunc('month', d.finished_at AT TIME ZONE %(tz)s) AS m
    FROM delivery_deployment d
    JOIN catalog_service s ON s.id = d.service_id
    JOIN catalog_environment e ON e.id = d.environment_id
    WHERE e.is_production AND d.finished_at IS NOT NULL AND d.status IN ('succeeded', 'failed', 'rolled_back')
), deps AS (
    SELECT team, m, count(*) FILTER (WHERE status = 'succeeded') AS deployments,
           count(*) FILTER (WHERE status <> 'succeeded') AS failed, count(*) AS total,
           count(*) FILTER (WHERE kind <> 'normal') AS rework
    FROM d GROUP BY GROUPING SETS ((team, m), (m))
), leads AS (
    SELECT d.team, d.m,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - c.authored_at)) AS p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - c.authored_at)) AS p90
    FROM delivery_deploymentcommit c JOIN d ON d.id = c.deployment_id AND d.status = 'succeeded'
    GROUP BY GROUPING SETS ((d.team, d.m), (d.m))
)
SELECT deps.*, leads.p50, leads.p90 FROM deps
LEFT JOIN leads ON leads.m = deps.m AND leads.team IS NOT DISTINCT FROM deps.team
"""


def main() -> None:
    from apps.reports import dora
    from apps.reports.governance import compute_governance
    from apps.reports.metrics import compute_report
    from apps.reports.pdf import render_report
    from apps.reports.periods import Month

    if connection.vendor != "postgresql":
        sys.exit("bench/dora.py needs PostgreSQL: set DATABASE_URL")
    print(f"scale {SCALE}: {TEAMS} teams, {SERVICES} services, {DEPLOYMENTS:,} deployments, "
          f"{3 * DEPLOYMENTS:,} commits, {INCIDENTS:,} incidents")
    t0 = time.perf_counter()
    if os.environ.get("BENCH_REUSE") != "1":
        generate()
    else:
        call_command("migrate", verbosity=0)
    print(f"data generation: {time.perf_counter() - t0:.1f} s")
    month = Month.parse(REPORT_MONTH)

    rss_before = peak_mb()
    t0 = time.perf_counter()
    report = compute_report(month)  # organisation: 12-month trend + team and service tables
    teams_trend = dora.aggregate(report.prep, "team", bench=report.bench)  # every team, 12 months
    engine = time.perf_counter() - t0
    rss_engine = peak_mb()

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(SQL_BASELINE, {"tz": report.tz_name})
        sql_rows = cur.fetchall()
    sql = time.perf_counter() - t0

    t0 = time.perf_counter()
    gov = compute_governance(report.prep, month, service_ids=None, as_of=report.as_of)
    rendered = render_report(report, gov, generated_by="bench", generated_at=timezone.now())
    pdf = time.perf_counter() - t0

    summary = report.summary()
    print(f"org {REPORT_MONTH}: {summary['deployment_frequency']['count']:,} deployments, "
          f"lead median {summary['lead_time']['median_seconds']} s over {summary['lead_time']['count']:,} commits, "
          f"CFR {summary['change_failure_rate']['rate']}, recovery median {summary['recovery_time']['median_seconds']} s")
    print(f"team x month rows: {len(teams_trend):,}; SQL baseline rows: {len(sql_rows):,}")
    print(f"metrics engine (org + every team, 12 months): {engine:.2f} s")
    print(f"hand-written SQL aggregate:                   {sql:.2f} s")
    print(f"ratio engine / SQL:                           {engine / sql:.2f}x (aim <= 3x)")
    print(f"peak memory (max RSS): {rss_engine:.0f} MB (before the engine: {rss_before:.0f} MB; aim <= 1536 MB)")
    print(f"PDF render (governance + charts + WeasyPrint): {pdf:.2f} s, {len(rendered.pdf):,} bytes (aim <= 10 s)")
    # A worker fills snapshots without another year of rows in memory: let this run's go first.
    del report, teams_trend, gov, rendered, summary
    gc.collect()
    cached_requests()
    print(f"peak memory of the whole run (max RSS): {peak_mb():.0f} MB")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cached_requests(repeat: int = 20) -> None:
    """The dashboard and the API as a browser or a pipeline sees them, served from snapshots."""
    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.accounts.models import User
    from apps.accounts.roles import ensure_roles
    from apps.reports import snapshots
    from apps.reports.models import MetricSnapshot
    from apps.reports.periods import Month

    ensure_roles()
    user, _ = User.objects.get_or_create(username="bench-executive", defaults={"first_name": "Bench"})
    user.groups.add(*Group.objects.filter(name="executive"))
    MetricSnapshot.objects.all().delete()
    t0 = time.perf_counter()
    months = snapshots.fill(months=13)
    fill = time.perf_counter() - t0
    print(f"snapshot fill ({months} closed months stored, organisation + every team and service): {fill:.2f} s, "
          f"{MetricSnapshot.objects.count():,} rows")
    if months != 13:
        # Timing "cached" requests without snapshots would time the whole-history engine instead.
        sys.exit("the fill stored fewer than 13 closed months: a history row written within "
                 "snapshots.MARGIN before it reaches them; run again a minute later")
    # The open month is computed live from the rows since a week before it (snapshots.compute_window);
    # the bench's year ends in October, so time that path over October as if it were still open.
    from apps.reports.scopes import ORGANISATION

    t0 = time.perf_counter()
    snapshots.compute_window(ORGANISATION, [Month.parse(REPORT_MONTH)], tz_name=settings.REPORT_TIMEZONE)
    print(f"open-month path (rows since a week before {REPORT_MONTH}, org + teams + services): "
          f"{time.perf_counter() - t0:.2f} s")
    client = Client()
    client.force_login(user)
    for label, url in (("GET /api/v1/reports/dora/", "/api/v1/reports/dora/"),
                       ("GET /api/v1/reports/dora/?team=", "/api/v1/reports/dora/"),
                       ("dashboard /reports/", "/reports/")):
        params = {"month": REPORT_MONTH}
        if "team=" in label:
            params["team"] = "bench-team-07"
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            response = client.get(url, params, secure=True)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url, params, secure=True)
        print(f"cached {label:33s} p50 {_percentile(times, .5) * 1000:7.1f} ms, "
              f"p95 {_percentile(times, .95) * 1000:7.1f} ms, {len(queries)} queries")


if __name__ == "__main__":
    main()
