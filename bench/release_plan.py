"""Benchmark: planning a release of 300 services with 1,200 dependency edges, and the release page.

Prints
- the plan (read every dependency edge through the ORM, follow them through services outside the
  release, cut the waves with graphlib, as `services._plan_for` does on every replan) p50/p95 over
  BENCH_REQUESTS runs — aim ≤ 100 ms — and the ratio to a baseline of the same work done by the
  library alone: a raw SQL read of the edges and graphlib.TopologicalSorter's layers over them;
- the cycle check of a dependency edit (graphlib over every edge) p50;
- the release page (/releases/{id}/, 300 services, 300 changes, deployments): its query count
  (asserted ≤ 15) and server time p50/p95.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_trains .venv/bin/python bench/release_plan.py
    .venv/bin/python bench/release_plan.py --scale 0.1   # 30 services, 120 edges: a quick run

The data is generated once per scale and reused. Without DATABASE_URL it uses an SQLite file
under /tmp (never the shared var/ database)."""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from graphlib import TopologicalSorter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("RP_VAR_DIR", "/tmp/rp_bench_releases")

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", "50")))
ARGS = parser.parse_args()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

SERVICES = max(10, int(300 * ARGS.scale))
EDGES = 4 * SERVICES
MAX_QUERIES = 15
AIM_MS = 100


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def setup_data():
    from apps.accounts.models import Team, User
    from apps.accounts.roles import ensure_roles
    from apps.catalog.models import Environment, Service
    from apps.change_types.models import ChangeType
    from apps.changes.models import ChangeRequest
    from apps.delivery.models import Deployment
    from apps.releases import services
    from apps.releases.models import Release, ReleaseChange, ServiceDependency, TrainService

    ensure_roles()
    team, _ = Team.objects.get_or_create(slug="bench-rel-team", defaults={"name": "Bench releases"})
    manager, created = User.objects.get_or_create(username="bench-release-manager")
    if created:
        from django.contrib.auth.models import Group

        manager.groups.add(Group.objects.get(name="release_manager"))
    envs = [Environment.objects.get_or_create(slug=slug, defaults={"name": slug, "order": order,
                                                                   "is_production": prod})[0]
            for slug, order, prod in (("bench-rel-staging", 950, False), ("bench-rel-prod", 951, True))]
    name = f"Bench release {SERVICES}"
    release = Release.objects.filter(name=name).first()
    if release is not None:
        print(f"reusing {name}")
        return manager, release
    existing = {s.slug: s for s in Service.objects.filter(slug__startswith=f"bench-rel-{SERVICES}-")}
    Service.objects.bulk_create([Service(slug=f"bench-rel-{SERVICES}-{i}", name=f"Bench {i}", owner_team=team)
                                 for i in range(SERVICES) if f"bench-rel-{SERVICES}-{i}" not in existing])
    svc = list(Service.objects.filter(slug__startswith=f"bench-rel-{SERVICES}-").order_by("pk"))
    rng = random.Random(15)
    edges: set[tuple[int, int]] = set()
    while len(edges) < EDGES:  # a DAG: a service depends only on services created before it
        a = rng.randrange(1, SERVICES)
        b = rng.randrange(0, a)
        edges.add((svc[a].pk, svc[b].pk))
    ServiceDependency.objects.bulk_create([ServiceDependency(service_id=a, depends_on_id=b) for a, b in edges],
                                          ignore_conflicts=True)
    train = services.train_create(actor=manager, slug=f"bench-rel-{SERVICES}-{int(time.time())}", name="Bench train",
                                  cadence="continuous", reason="stability", signoff_roles=["product"])
    TrainService.objects.filter(service__in=svc).delete()
    TrainService.objects.bulk_create([TrainService(train=train, service=s) for s in svc])
    now = timezone.now()
    release = services.release_create(actor=manager, name=name, train=train, services=svc,
                                      planned_start=now + timedelta(days=30), scope_lock_at=now + timedelta(days=29))
    change_type = ChangeType.objects.order_by("pk").first()
    with transaction.atomic():
        changes = ChangeRequest.objects.bulk_create([ChangeRequest(
            number=f"BREL-{SERVICES}-{i}", title=f"Bench change {i}", change_type=change_type, service=s,
            environment=envs[1], requester=manager, state="approved") for i, s in enumerate(svc)])
        ReleaseChange.objects.bulk_create([ReleaseChange(release=release, change=c, added_by=manager)
                                           for c in changes])
        Deployment.objects.bulk_create([Deployment(service=c.service, environment=envs[0], change=c,
                                                   status="succeeded") for c in changes[: SERVICES // 2]])
    return manager, release


def main() -> None:
    call_command("migrate", verbosity=0)
    manager, release = setup_data()
    from apps.releases import planning
    from apps.releases.models import ReleaseService, ServiceDependency
    from apps.releases.services import _edges, _plan_for

    ids = list(ReleaseService.objects.filter(release=release).values_list("service_id", flat=True))
    slugs = dict(ReleaseService.objects.filter(release=release).values_list("service_id", "service__slug"))
    edge_count = ServiceDependency.objects.filter(service_id__in=ids).count()
    print(f"release of {len(ids)} services, {edge_count:,} dependency edges among them "
          f"({ServiceDependency.objects.count():,} in the database); database {connection.vendor}; "
          f"{ARGS.requests} runs each. Figures from a busy shared machine.")
    plan = _plan_for(ids, slugs, _edges())
    print(f"plan: {len(plan['waves'])} waves, widest {max(len(w) for w in plan['waves'])} services")

    def portal_plan():
        _plan_for(ids, slugs, _edges())

    table = ServiceDependency._meta.db_table

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT service_id, depends_on_id FROM {table}")  # noqa: S608 (a fixed table name)
            rows = cursor.fetchall()
        graph: dict[int, set[int]] = {}
        for a, b in rows:
            graph.setdefault(a, set()).add(b)
        sorter = TopologicalSorter(graph)
        sorter.prepare()
        while sorter.is_active():
            ready = sorter.get_ready()
            sorter.done(*ready)

    portal_plan()
    baseline()
    ours = timed(portal_plan, ARGS.requests)
    base = timed(baseline, ARGS.requests)
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"plan (ORM read + closure + waves)   p50={statistics.median(ours):7.1f} ms  p95={pct(ours, .95):7.1f} ms   "
          f"baseline (raw SQL + graphlib) p50={statistics.median(base):6.1f} ms   ratio p50 {ratio:.1f}×   "
          f"{'OK' if pct(ours, .95) <= AIM_MS else 'ABOVE AIM'} (p95 ≤ {AIM_MS} ms)")
    edges = _edges()
    cycle = timed(lambda: planning.find_cycle(edges), ARGS.requests)
    print(f"cycle check over every edge        p50={statistics.median(cycle):7.1f} ms")

    client = Client()
    client.force_login(manager)
    url = f"/releases/{release.pk}/"
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    queries = len(ctx.captured_queries)
    assert queries <= MAX_QUERIES, f"release page: {queries} queries > {MAX_QUERIES}"
    page = timed(lambda: client.get(url), max(5, ARGS.requests // 2))
    print(f"release page                       queries={queries}  p50={statistics.median(page):7.1f} ms  "
          f"p95={pct(page, .95):7.1f} ms  (≤ {MAX_QUERIES} queries: OK)")


if __name__ == "__main__":
    main()
