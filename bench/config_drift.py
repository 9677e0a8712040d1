"""Benchmark: configuration drift at 2,000 services × 3 environments × 200 keys.

1. One observation compared with its approved baseline and stored through the service
   (observation_record: lock, compare 200 keys, store, open/update findings, audit event, history):
   p50/p95 over BENCH_REQUESTS observations (aim p95 ≤ 50 ms), vs the raw SQL of the same reads and
   writes (lock the pair's state row, read the approved baseline, insert the observation, update the
   state, upsert the findings) in the same process.
2. The organisation's drift list page (/config/drift/, open findings, first page): query count
   (asserted ≤ 15, the same at any size) and server p50/p95 (aim p95 ≤ 150 ms), vs the selector's
   SQL alone (the page of rows and the count).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rp_configbench .venv/bin/python bench/config_drift.py
    .venv/bin/python bench/config_drift.py --scale 0.01   # 20 services, for a quick run (SQLite under /tmp)

Data is generated once per scale and reused. Figures on a shared, busy machine vary run to run."""

from __future__ import annotations

import argparse
import json
import logging
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
    os.environ.setdefault("RP_VAR_DIR", "/tmp/rp_bench_config")

_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
_parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", "200")))
ARGS = _parser.parse_args()

import django  # noqa: E402

django.setup()
logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # one line per eager notification task otherwise

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

SERVICES = max(20, int(2000 * ARGS.scale))
KEYS = 200
REQUESTS = ARGS.requests
MAX_QUERIES = 15
BATCH = 500
PREFIX = "cfgbench"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def baseline_settings(i: int) -> dict:
    return {f"KEY_{k:03d}": {"value": f"value-{k}-{i % 7}", "secret": False, "must_match": k % 10 == 0}
            for k in range(KEYS)}


def setup_data():
    from apps.accounts.models import Team, TeamMembership, User
    from apps.accounts.roles import ensure_roles
    from apps.catalog.models import Environment, Service
    from apps.change_types.models import ChangeType
    from apps.changes.models import ChangeRequest
    from apps.environments.models import ConfigBaseline, ConfigState, DriftFinding

    ensure_roles()
    team, _ = Team.objects.get_or_create(slug=f"{PREFIX}-team", defaults={"name": "Config bench"})
    person, created = User.objects.get_or_create(username=f"{PREFIX}-engineer")
    if created:
        TeamMembership.objects.create(team=team, user=person)
    bot, _ = User.objects.get_or_create(username=f"{PREFIX}-bot", defaults={"kind": User.Kind.SERVICE_ACCOUNT,
                                                                             "owner_team": team})
    envs = [Environment.objects.get_or_create(slug=f"{PREFIX}-{slug}", defaults={
        "name": f"Bench {slug}", "order": 800 + n, "is_production": slug == "prod"})[0]
        for n, slug in enumerate(["dev", "staging", "prod"])]
    change_type, _ = ChangeType.objects.get_or_create(slug=f"{PREFIX}-config", defaults={
        "name": "Bench configuration", "requires_peer_review": True})
    existing = Service.objects.filter(slug__startswith=f"{PREFIX}-svc-").count()
    if existing >= SERVICES:
        print(f"reusing {existing:,} bench services")
        return person, bot, envs
    now = timezone.now()
    start = now - timedelta(days=30)
    first = Service.objects.filter(slug=f"{PREFIX}-svc-0").first() or Service.objects.create(
        slug=f"{PREFIX}-svc-0", name="Bench 0", owner_team=team)
    change = ChangeRequest.objects.filter(title="Config bench baselines").first() or ChangeRequest.objects.create(
        title="Config bench baselines", change_type=change_type, service=first, environment=envs[0], requester=person,
        state="closed", planned_start=start, planned_end=start + timedelta(hours=1), content_hash="0" * 64,
        number=f"{PREFIX.upper()}-1")
    print(f"generating {SERVICES - existing:,} services × 3 environments × {KEYS} keys…", flush=True)
    began = time.perf_counter()
    for offset in range(max(existing, 1) if existing else 0, SERVICES, BATCH):
        with transaction.atomic():
            rows = [Service(slug=f"{PREFIX}-svc-{i}", name=f"Bench {i}", owner_team=team)
                    for i in range(offset, min(offset + BATCH, SERVICES)) if i > 0]
            services = Service.objects.bulk_create(rows) + ([first] if offset == 0 else [])
            baselines, states, findings = [], [], []
            for service in services:
                i = int(service.slug.rsplit("-", 1)[1])
                for env in envs:
                    settings = baseline_settings(i)
                    baselines.append(ConfigBaseline(service=service, environment=env, version=1, status="approved",
                                                    change=change, settings=settings, proposed_by=person,
                                                    approved_by=person, approved_at=start, approvers=[person.username]))
                    states.append(ConfigState(service=service, environment=env, last_observed_at=start,
                                              runtimes={"java": "17.0.9"}))
                    if i % 10 == 0:  # a tenth of the pairs drifted: one open, one resolved finding each
                        for key, status in (("KEY_001", "open"), ("KEY_002", "resolved")):
                            findings.append(DriftFinding(
                                service=service, environment=env, key=key, kind="changed", expected="a", observed="b",
                                must_match=False, first_seen=start, last_seen=start + timedelta(hours=i % 500),
                                status=status, resolution="" if status == "open" else "reverted",
                                resolved_at=None if status == "open" else start + timedelta(days=1)))
            ConfigBaseline.objects.bulk_create(baselines, batch_size=300)
            ConfigState.objects.bulk_create(states, batch_size=1000)
            DriftFinding.objects.bulk_create(findings, batch_size=1000)
        print(f"  {min(offset + BATCH, SERVICES):,} services ({time.perf_counter() - began:.0f} s)", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return person, bot, envs


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(label: str, values: list[float], raw: list[float], aim: float, queries: int | None = None) -> None:
    p50, p95, raw50, raw95 = statistics.median(values), pct(values, 0.95), statistics.median(raw), pct(raw, 0.95)
    q = f"queries={queries:>2}  " if queries is not None else ""
    print(f"{label:<34} {q}p50={p50:7.1f} ms  p95={p95:7.1f} ms   raw SQL p50={raw50:6.1f} ms p95={raw95:6.1f} ms   "
          f"ratio p50 {p50 / raw50 if raw50 else float('nan'):.1f}×   "
          f"{'OK' if p95 <= aim else 'ABOVE AIM'} (p95 ≤ {aim:.0f} ms)", flush=True)


def bench_observations(bot, envs) -> None:
    from apps.catalog.models import Service
    from apps.environments.config_services import observation_record
    from apps.environments.models import ConfigBaseline, ConfigObservation, ConfigState, DriftFinding

    services = list(Service.objects.filter(slug__startswith=f"{PREFIX}-svc-").order_by("pk")[:REQUESTS * 2])
    base = timezone.now() - timedelta(hours=1)
    counter = {"n": ConfigObservation.objects.filter(service__slug__startswith=PREFIX).count()}

    def observed(i: int) -> dict[str, str]:
        values = {key: entry["value"] for key, entry in baseline_settings(i).items()}
        values["KEY_003"] = f"hand-edited-{counter['n'] % 3}"  # one changed key: a finding opened or updated
        return values

    def via_service(i: int) -> None:
        counter["n"] += 1
        service = services[i % len(services)]
        observation_record(service=service, environment=envs[i % 3], source="agent",
                           observed_at=base + timedelta(milliseconds=counter["n"]),
                           settings=observed(int(service.slug.rsplit("-", 1)[1])), runtimes={"java": "17.0.9"},
                           actor=bot)

    obs_table = ConfigObservation._meta.db_table
    state_table = ConfigState._meta.db_table
    baseline_table = ConfigBaseline._meta.db_table
    finding_table = DriftFinding._meta.db_table
    ids = {s.pk: int(s.slug.rsplit("-", 1)[1]) for s in services}

    def raw(i: int) -> None:
        """The same reads and writes without the ORM, the comparison or the audit trail."""
        service = services[i % len(services)]
        env = envs[i % 3]
        settings = json.dumps({k: {"value": v} for k, v in observed(ids[service.pk]).items()})
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {state_table} WHERE service_id = %s AND environment_id = %s"
                           + (" FOR UPDATE" if connection.vendor == "postgresql" else ""), [service.pk, env.pk])
            cursor.fetchall()
            cursor.execute(f"SELECT id, settings FROM {baseline_table} WHERE service_id = %s AND environment_id = %s "
                           "AND status = 'approved'", [service.pk, env.pk])
            baseline_id, stored = cursor.fetchone()
            json.loads(stored) if isinstance(stored, str) else stored
            cursor.execute(f"INSERT INTO {obs_table} (service_id, environment_id, source, observed_at, baseline_id, "
                           "settings, runtimes, drift, created_by_id, created_at) VALUES (%s, %s, 'agent', %s, %s, %s, "
                           "%s, %s, %s, %s)", [service.pk, env.pk, now, baseline_id, settings,
                                               json.dumps({"java": "17.0.9"}), "[]", bot.pk, now])
            cursor.execute(f"UPDATE {state_table} SET last_observed_at = %s WHERE service_id = %s "
                           "AND environment_id = %s", [now, service.pk, env.pk])
            cursor.execute(f"UPDATE {finding_table} SET last_seen = %s WHERE service_id = %s AND environment_id = %s "
                           "AND key = 'KEY_003' AND status = 'open'", [now, service.pk, env.pk])

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        via_service(0)  # warm
        service_ms = timed(via_service, REQUESTS)
        raw_ms = timed(raw, REQUESTS)
    report("observation compared and stored", service_ms, raw_ms, 50)


def bench_drift_list(person) -> None:
    from apps.environments.config_permissions import findings_visible_to
    from apps.environments.config_selectors import findings_list

    client = Client()
    client.force_login(person)
    url = "/config/drift/"
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    queries = len(ctx.captured_queries)
    assert queries <= MAX_QUERIES, f"{queries} queries > {MAX_QUERIES}"
    qs = findings_list(findings_visible_to(person), status="open")
    page_sql = qs[:50].query.sql_with_params()
    count_sql, count_params = qs.order_by().values("pk").query.sql_with_params()
    statements = [page_sql, (f"SELECT COUNT(*) FROM ({count_sql}) AS filtered", count_params)]

    def raw(_i: int) -> None:
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()

    page = timed(lambda _i: client.get(url), REQUESTS)
    report("drift list (organisation, open)", page, timed(raw, REQUESTS), 150, queries)


def main() -> None:
    call_command("migrate", verbosity=0)
    person, bot, envs = setup_data()
    from apps.environments.models import ConfigBaseline, DriftFinding

    print(f"rows: {ConfigBaseline.objects.count():,} baselines of {KEYS} keys, "
          f"{DriftFinding.objects.filter(status='open').count():,} open / {DriftFinding.objects.count():,} findings; "
          f"{REQUESTS} requests each; database {connection.vendor}", flush=True)
    bench_observations(bot, envs)
    bench_drift_list(person)


if __name__ == "__main__":
    main()
