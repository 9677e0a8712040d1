"""Benchmark: recording infrastructure runs and schema migrations through the API.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_prov_bench .venv/bin/python bench/provisioning.py
    BENCH_SCALE=0.1 ...   # a plan of 1,000 resources instead of 10,000, fewer requests

1. POST /api/v1/environments/{env}/provisions/ with a `terraform show -json` plan of 10,000
   resource changes (each with before/after values, ~9 MB; addresses, types and actions are kept,
   the values dropped) through the whole Django stack in this process: p50/p95 server time.
   Baseline: json.loads of the same body, the provision row and one multi-row INSERT of the
   resource rows in raw SQL, one transaction, in the same process (no parsing checks, history
   or audit row).
2. POST /api/v1/migrations/applied/ with 200 migrations: the first report of each batch (all
   new) and a repeat (all duplicates): p50/p95. Baseline: the same rows inserted with raw SQL.

Without DATABASE_URL it runs on an SQLite file under /tmp. Figures from a busy shared machine
vary; compare the ratios."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("RP_VAR_DIR", "/tmp/rp_bench_provisioning")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
RESOURCES = max(100, int(10_000 * SCALE))
PROVISION_POSTS = max(5, int(20 * min(1, SCALE * 2)))
MIGRATIONS = 200
MIGRATION_POSTS = max(10, int(40 * min(1, SCALE * 2)))
ACTIONS = [["create"], ["update"], ["no-op"], ["no-op"], ["no-op"], ["delete", "create"], ["read"], ["delete"]]


def say(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def plan(n: int) -> dict:
    changes = []
    for i in range(n):
        values = {f"attr_{k}": f"value-{i}-{k}" for k in range(12)}
        changes.append({"address": f"module.app[{i % 50}].aws_instance.node[{i}]", "mode": "managed",
                        "type": "aws_instance", "name": "node", "provider_name": "registry.terraform.io/hashicorp/aws",
                        "change": {"actions": ACTIONS[i % len(ACTIONS)], "before": values, "after": values,
                                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}})
    return {"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes,
            "variables": {"region": {"value": "eu-west-1"}}}


def setup():
    from apps.accounts.models import Team, User
    from apps.accounts.roles import ensure_roles
    from apps.accounts.services import api_token_create
    from apps.catalog.models import Environment, Service

    ensure_roles()
    team, _ = Team.objects.get_or_create(slug="bench-prov", defaults={"name": "Bench provisioning"})
    bot, _ = User.objects.get_or_create(username="bench-prov-bot", defaults={"kind": User.Kind.SERVICE_ACCOUNT,
                                                                              "owner_team": team})
    env = Environment.objects.filter(slug="bench-prov-staging").first()
    if env is None:
        order = (Environment.objects.order_by("-order").values_list("order", flat=True).first() or 0) + 10
        env = Environment.objects.create(slug="bench-prov-staging", name="Bench staging", order=order)
    service, _ = Service.objects.get_or_create(slug="bench-prov-db", defaults={"name": "Bench DB", "owner_team": team})
    _, token = api_token_create(user=bot, actor=bot, name="bench", scopes=["delivery:read", "delivery:write"])
    return bot, env, service, token


def bench_provisions(env, token, bot) -> None:
    from apps.environments.models import Provision

    body = json.dumps({"tool": "terraform", "status": "planned", "plan": plan(RESOURCES)})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/environments/{env.slug}/provisions/"
    times = []
    for _ in range(PROVISION_POSTS + 1):
        started = time.perf_counter()
        response = client.post(url, body, content_type="application/json")
        times.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content[:300]
    times = times[1:]  # the first warms caches
    raw = []
    for _ in range(PROVISION_POSTS):
        started = time.perf_counter()
        doc = json.loads(body)
        rows = [(c["address"], c["type"], c["mode"], "-".join(c["change"]["actions"])[:8])
                for c in doc["plan"]["resource_changes"]]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO environments_provision (environment_id, tool, repository, git_sha, pipeline_run_id, "
                "status, has_plan, plan_format_version, tool_version, create_count, update_count, delete_count, "
                "replace_count, read_count, no_op_count, is_unauthorized, created_by_id, created_at) VALUES "
                "(%s, 'terraform', '', '', '', 'planned', true, '1.2', '1.9.8', 0, 0, 0, 0, 0, 0, false, %s, %s) "
                "RETURNING id", [env.pk, bot.pk, timezone.now()])
            pk = cursor.fetchone()[0]
            for start in range(0, len(rows), 1000):
                chunk = rows[start:start + 1000]
                params = [v for row in chunk for v in (pk, *row)]
                cursor.execute("INSERT INTO environments_provisionresource (provision_id, address, resource_type, "
                               "mode, action) VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk)), params)
        raw.append(time.perf_counter() - started)
    mb = len(body) / 1e6
    say(f"provision with a {RESOURCES:,}-resource plan ({mb:.1f} MB), {PROVISION_POSTS} requests: "
        f"p50 {pct(times, 50) * 1000:.0f} ms, p95 {pct(times, 95) * 1000:.0f} ms; raw SQL p50 "
        f"{statistics.median(raw) * 1000:.0f} ms; ratio {statistics.median(times) / statistics.median(raw):.1f}x")
    say(f"  stored {Provision.objects.filter(environment=env).count()} runs in {env.slug}")


def bench_migrations(env, service, token, bot) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    run = int(time.time())
    first, repeat, raw = [], [], []
    for n in range(MIGRATION_POSTS):
        migrations = [{"version": f"{run}.{n}.{i}", "description": f"step {i}", "checksum": f"{n:08x}{i:08x}",
                       "status": "success", "applied_at": "2026-11-30T10:00:00Z"} for i in range(MIGRATIONS)]
        body = json.dumps({"service": service.slug, "environment": env.slug, "tool": "flyway",
                           "migrations": migrations})
        for bucket, expected in ((first, 201), (repeat, 200)):
            started = time.perf_counter()
            response = client.post("/api/v1/migrations/applied/", body, content_type="application/json")
            bucket.append(time.perf_counter() - started)
            assert response.status_code == expected, response.content[:300]
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            params = [v for m in migrations for v in (service.pk, env.pk, "flyway", "raw-" + m["version"],
                                                       m["description"], m["checksum"], "success", timezone.now(),
                                                       "", bot.pk, timezone.now())]
            cursor.execute("INSERT INTO environments_appliedmigration (service_id, environment_id, tool, version, "
                           "description, checksum, status, applied_at, pipeline_run_id, created_by_id, created_at) "
                           "VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(migrations)),
                           params)
        raw.append(time.perf_counter() - started)
    say(f"migrations applied, {MIGRATIONS} per report, {MIGRATION_POSTS} reports: new p50 "
        f"{pct(first, 50) * 1000:.0f} ms p95 {pct(first, 95) * 1000:.0f} ms; repeat (all duplicates) p50 "
        f"{pct(repeat, 50) * 1000:.0f} ms p95 {pct(repeat, 95) * 1000:.0f} ms; raw SQL insert p50 "
        f"{statistics.median(raw) * 1000:.0f} ms; ratio new/raw {statistics.median(first) / statistics.median(raw):.1f}x")


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


def main() -> None:
    ensure_database()
    call_command("migrate", verbosity=0)
    from apps.audit.actor import Actor, acting_as

    say(f"provisioning benchmark on {connection.vendor}, scale {SCALE}")
    with acting_as(Actor.for_command("bench_provisioning")):
        bot, env, service, token = setup()
    bench_provisions(env, token, bot)
    bench_migrations(env, service, token, bot)


if __name__ == "__main__":
    main()
