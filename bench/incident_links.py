"""Benchmark: the incident → deployment linking rule over many incidents.

Builds (once) a synthetic data set — services with production deployments and incidents over
a year — in DATABASE_URL's database, then times `linked_deployments(Incident.objects.all())`
(the one query reports use) against a hand-written SQL query implementing the same rule over the
same rows, and checks that both agree.

    BENCH_SCALE=1     # 200 services, 60,000 deployments, 20,000 incidents (default)
    BENCH_SCALE=0.01  # a quick run
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
N_SERVICES = max(2, int(200 * SCALE))
N_DEPLOYMENTS = max(20, int(60_000 * SCALE))
N_INCIDENTS = max(10, int(20_000 * SCALE))
PREFIX = "bench-inc-"
REPEAT = 3


def build() -> None:
    from apps.accounts.models import Team
    from apps.catalog.models import Environment, Service
    from apps.delivery.models import Deployment
    from apps.incidents.models import Incident

    if Incident.objects.filter(title__startswith=PREFIX).count() == N_INCIDENTS:
        return
    rng = random.Random(7)
    now = timezone.now()
    with transaction.atomic():
        team, _ = Team.objects.get_or_create(slug="bench-incidents", defaults={"name": "Bench incidents"})
        prod, _ = Environment.objects.get_or_create(slug="prod", defaults={"name": "Production", "order": 30,
                                                                           "is_production": True})
        staging, _ = Environment.objects.get_or_create(slug="staging", defaults={"name": "Staging", "order": 20})
        services = [Service.objects.get_or_create(slug=f"{PREFIX}{n}", defaults={"name": f"Bench {n}",
                                                                                 "owner_team": team})[0]
                    for n in range(N_SERVICES)]
        Incident.objects.filter(title__startswith=PREFIX).delete()
        Deployment.objects.filter(service__slug__startswith=PREFIX).delete()
        deployments = []
        for _ in range(N_DEPLOYMENTS):
            finished = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
            deployments.append(Deployment(
                service=rng.choice(services), environment=prod if rng.random() < 0.7 else staging,
                status=rng.choices(["succeeded", "failed", "rolled_back"], weights=[85, 10, 5])[0],
                started_at=finished - timedelta(minutes=10), finished_at=finished, version="1"))
        Deployment.objects.bulk_create(deployments, batch_size=2000)
        incidents = []
        for n in range(N_INCIDENTS):
            incidents.append(Incident(
                service=rng.choice(services), title=f"{PREFIX}{n}", severity="sev3",
                started_at=now - timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
                link_suppressed=rng.random() < 0.05))
        Incident.objects.bulk_create(incidents, batch_size=2000)
        # a few explicit links
        ids = list(Deployment.objects.filter(service__slug__startswith=PREFIX).values_list("pk", flat=True)[:500])
        for incident in Incident.objects.filter(title__startswith=PREFIX).order_by("pk")[: N_INCIDENTS // 10]:
            Incident.objects.filter(pk=incident.pk).update(caused_by_deployment_id=rng.choice(ids))


RAW_SQL = """
SELECT i.id,
       COALESCE(i.caused_by_deployment_id, CASE WHEN i.link_suppressed THEN NULL ELSE (
           SELECT d.id FROM delivery_deployment d JOIN catalog_environment e ON e.id = d.environment_id
           WHERE d.service_id = i.service_id AND e.is_production AND d.status = 'succeeded'
             AND d.finished_at IS NOT NULL AND d.finished_at < i.started_at
           ORDER BY d.finished_at DESC, d.id DESC LIMIT 1) END) AS dep,
       CASE WHEN i.caused_by_deployment_id IS NOT NULL THEN 'explicit' END AS explicit
FROM incidents_incident i WHERE i.title LIKE %s
"""


# The same rule with the production environment's id known up front (what linking.py does).
RAW_SQL_ENV_ID = """
SELECT i.id,
       COALESCE(i.caused_by_deployment_id, CASE WHEN i.link_suppressed THEN NULL ELSE (
           SELECT d.id FROM delivery_deployment d
           WHERE d.service_id = i.service_id AND d.environment_id = %s AND d.status = 'succeeded'
             AND d.finished_at IS NOT NULL AND d.finished_at < i.started_at
           ORDER BY d.finished_at DESC, d.id DESC LIMIT 1) END) AS dep,
       CASE WHEN i.caused_by_deployment_id IS NOT NULL THEN 'explicit' END AS explicit
FROM incidents_incident i WHERE i.title LIKE %s
"""


def _rows(sql: str, params: list) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pk: (dep, explicit or ("inferred" if dep else None)) for pk, dep, explicit in cursor.fetchall()}


def run_raw() -> dict:
    return _rows(RAW_SQL, [PREFIX + "%"])


def run_raw_env_id() -> dict:
    from apps.catalog.models import Environment

    prod_ids = list(Environment.objects.filter(is_production=True).values_list("pk", flat=True))
    assert len(prod_ids) == 1, "this baseline assumes one production environment"
    return _rows(RAW_SQL_ENV_ID, [prod_ids[0], PREFIX + "%"])


def run_orm() -> dict:
    from apps.incidents.linking import linked_deployments
    from apps.incidents.models import Incident

    return linked_deployments(Incident.objects.filter(title__startswith=PREFIX))


def timed(fn) -> tuple[float, dict]:
    times, result = [], {}
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    build()
    print(f"data: {N_SERVICES} services, {N_DEPLOYMENTS} deployments, {N_INCIDENTS} incidents "
          f"({connection.vendor}; built in {time.perf_counter() - start:.1f}s)")
    raw_t, raw = timed(run_raw)
    raw2_t, raw2 = timed(run_raw_env_id)
    orm_t, orm = timed(run_orm)
    assert raw == raw2 == orm, "the ORM rule and the SQL baselines disagree"
    kinds = {k: sum(1 for _, kind in orm.values() if kind == k) for k in ("explicit", "inferred", None)}
    print(f"links: {kinds}")
    print(f"raw SQL, environment join:   {raw_t * 1000:9.1f} ms ({N_INCIDENTS / raw_t:,.0f} incidents/s)")
    print(f"raw SQL, production env id:  {raw2_t * 1000:9.1f} ms ({N_INCIDENTS / raw2_t:,.0f} incidents/s)")
    print(f"linked_deployments(qs):      {orm_t * 1000:9.1f} ms ({N_INCIDENTS / orm_t:,.0f} incidents/s)")
    print(f"ratio ORM / best raw: {orm_t / min(raw_t, raw2_t):.2f}   ORM / join baseline: {orm_t / raw_t:.2f}")


if __name__ == "__main__":
    main()
