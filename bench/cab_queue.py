"""Benchmark: the CAB queue ("waiting for me") and the change list over 100,000 changes and
500,000 approvals.

Prints each page's query count (asserted ≤ 15, the same at any size), the server time p50/p95
over BENCH_REQUESTS requests (default 200; aim p95 ≤ 150 ms) and the ratio to running the
selector's own SQL alone in the same process (lists: the page query and a count over the same
rows; queue: every statement the queue selector runs for the first page, counts included).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_changes_bench .venv/bin/python bench/cab_queue.py
    BENCH_SCALE=0.01 ...   # 1,000 changes and 5,000 approvals, for a quick run

The data is generated once per scale and reused by later runs. Without DATABASE_URL it uses an
SQLite file under /tmp (never the shared var/ database)."""

from __future__ import annotations

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
    os.environ.setdefault("RP_VAR_DIR", "/tmp/rp_bench_changes")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CHANGES = max(200, int(100_000 * SCALE))
APPROVALS_PER_CHANGE = 5
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
APPROVERS = 40
MAX_QUERIES = 15
BATCH = 5000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def setup_data():
    from django.contrib.auth.models import Group

    from apps.accounts.models import Team, TeamMembership, User
    from apps.accounts.roles import ensure_roles
    from apps.catalog.models import Environment, Service
    from apps.change_types.models import ApprovalStage, ChangeType
    from apps.changes.models import Approval, ChangeRequest, OpenStage

    ensure_roles()
    approver_group = Group.objects.get(name="approver")
    cab_group = Group.objects.get(name="cab_member")
    teams = [Team.objects.get_or_create(slug=f"bench-team-{i}", defaults={"name": f"Bench team {i}"})[0] for i in range(6)]
    envs = []
    for order, slug in enumerate(["bench-staging", "bench-prod"], start=900):
        envs.append(Environment.objects.get_or_create(slug=slug, defaults={"name": slug, "order": order,
                                                                            "is_production": False})[0])
    services = [Service.objects.get_or_create(slug=f"bench-svc-{i}", defaults={
        "name": f"Bench service {i}", "owner_team": teams[i % len(teams)], "tier": 1 + i % 4})[0] for i in range(24)]
    people = []
    for i in range(APPROVERS):
        user, created = User.objects.get_or_create(username=f"bench-approver-{i}", defaults={"email": f"ba{i}@example.test"})
        if created:
            user.groups.add(approver_group)
            if i < 10:
                user.groups.add(cab_group)
            TeamMembership.objects.get_or_create(team=teams[i % len(teams)], user=user)
        people.append(user)
    requester, _ = User.objects.get_or_create(username="bench-requester")
    TeamMembership.objects.get_or_create(team=teams[0], user=requester)
    change_type, created = ChangeType.objects.get_or_create(slug="bench-normal", defaults={"name": "Bench normal",
                                                                                         "cab_required": "always"})
    if created:
        ApprovalStage.objects.create(change_type=change_type, order=1, name="Technical", approver_kind="owning_team",
                                     rule="any", sla_hours=24)
        ApprovalStage.objects.create(change_type=change_type, order=2, name="Approvers", approver_group="approver",
                                     rule="quorum", quorum=3, sla_hours=48)
        ApprovalStage.objects.create(change_type=change_type, order=3, name="CAB", approver_group="cab_member",
                                     rule="any", sla_hours=72, applies_when="cab", is_cab=True)
    stages = list(change_type.stages.order_by("order"))

    existing = ChangeRequest.objects.filter(change_type=change_type).count()
    if existing >= CHANGES:
        print(f"reusing {existing:,} bench changes")
        return people[0], change_type
    print(f"generating {CHANGES - existing:,} changes and {(CHANGES - existing) * APPROVALS_PER_CHANGE:,} approvals…",
          flush=True)
    states = ["closed"] * 14 + ["completed", "failed", "rejected", "cancelled", "approved", "scheduled", "in_review",
                                "in_review", "draft"]
    now = timezone.now()
    started = time.perf_counter()
    for offset in range(existing, CHANGES, BATCH):
        rows = []
        for i in range(offset, min(offset + BATCH, CHANGES)):
            service = services[i % len(services)]
            start = now - timedelta(days=365) + timedelta(minutes=(i * 5))
            rows.append(ChangeRequest(
                number=f"BENCH-{i:08d}", title=f"Bench change {i}", change_type=change_type, service=service,
                environment=envs[i % 2], requester=requester, state=states[i % len(states)], planned_start=start,
                planned_end=start + timedelta(hours=1), risk_level=["low", "medium", "high", "critical"][i % 4],
                risk_score=i % 90, cab_required=True, created_at=start - timedelta(days=2),
                submitted_at=start - timedelta(days=1), content_hash="0" * 64))
        with transaction.atomic():
            created_rows = ChangeRequest.objects.bulk_create(rows, batch_size=BATCH)
            approvals, open_stages = [], []
            for n, change in enumerate(created_rows):
                i = offset + n
                chosen = [people[(i + k * 7) % APPROVERS] for k in range(APPROVALS_PER_CHANGE)]
                for k, person in enumerate(chosen):
                    stage = stages[min(k, 2)] if k < 4 else stages[1]
                    approvals.append(Approval(change=change, stage=stage, stage_name=stage.name, approver=person,
                                              decision="approve", content_hash="0" * 64,
                                              decided_at=change.created_at + timedelta(hours=k + 1)))
                if change.state == "in_review":
                    stage = stages[2]
                    open_stages.append(OpenStage(change=change, stage=stage, group_name="cab_member",
                                                 requester=requester, service=change.service,
                                                 risk_level=change.risk_level, planned_start=change.planned_start,
                                                 environment_id=change.environment_id,
                                                 planned_end=change.planned_end, opened_at=change.submitted_at,
                                                 due_at=change.submitted_at + timedelta(hours=72)))
            Approval.objects.bulk_create(approvals, batch_size=BATCH)
            OpenStage.objects.bulk_create(open_stages, batch_size=BATCH)
        done = min(offset + BATCH, CHANGES)
        print(f"  {done:,} changes ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("UPDATE changes_changerequest SET number = 'CHG-' || lpad(id::text, 6, '0') "
                           "WHERE number LIKE 'BENCH-%%'")
            # What autovacuum does to a table that has stopped growing: statistics and the
            # visibility map (index-only scans), so the first runs measure a settled database.
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("UPDATE changes_changerequest SET number = 'CHG-' || substr('000000' || id, -6, 6) "
                           "WHERE number LIKE 'BENCH-%%'")
    return people[0], change_type


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def raw_sql_timer(page_qs, count_qs) -> callable:
    """Run the selector's SQL alone (no ORM object building, no template): the baseline — the
    page of rows, and a COUNT over the same filtered rows (what the page's counts cost)."""
    sql, params = count_qs.order_by().values("pk").query.sql_with_params()
    compiled = [page_qs.query.sql_with_params(), (f"SELECT COUNT(*) FROM ({sql}) AS filtered", params)]

    def run():
        with connection.cursor() as cursor:
            for sql, params in compiled:
                cursor.execute(sql, params)
                cursor.fetchall()

    return run


def queue_sql_timer(user) -> callable:
    """The queue selector's own SQL re-run raw (no ORM object building, no template): the baseline
    for the queue page — its look-ups of delegations and teams, the counts, the first page of rows
    and their open stages."""
    from apps.changes.selectors import cab_queue_for

    with CaptureQueriesContext(connection) as ctx:
        queue, _ = cab_queue_for(user)
        queue[0:50]
    statements = [q["sql"] for q in ctx.captured_queries]

    def run():
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    return run


def measure(label: str, client: Client, url: str, baseline) -> dict:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    queries = len(ctx.captured_queries)
    assert queries <= MAX_QUERIES, f"{label}: {queries} queries > {MAX_QUERIES}"
    client.get(url)  # warm
    page = timed(lambda: client.get(url), REQUESTS)
    sql = timed(baseline, REQUESTS)
    result = {"label": label, "queries": queries, "p50": statistics.median(page), "p95": pct(page, 0.95),
              "sql_p50": statistics.median(sql), "sql_p95": pct(sql, 0.95)}
    result["ratio"] = result["p50"] / result["sql_p50"] if result["sql_p50"] else float("nan")
    print(f"{label:<28} queries={queries:>2}  server p50={result['p50']:7.1f} ms  p95={result['p95']:7.1f} ms   "
          f"selector SQL alone p50={result['sql_p50']:6.1f} ms p95={result['sql_p95']:6.1f} ms   "
          f"ratio p50 {result['ratio']:.1f}×   {'OK' if result['p95'] <= 150 else 'ABOVE AIM'} (p95 ≤ 150 ms)")
    return result


def main() -> None:
    call_command("migrate", verbosity=0)
    user, change_type = setup_data()
    from apps.changes.models import Approval, ChangeRequest
    from apps.changes.selectors import cab_queue_for, changes_list

    print(f"rows: {ChangeRequest.objects.count():,} changes, {Approval.objects.count():,} approvals; "
          f"{REQUESTS} requests per page; database {connection.vendor}")
    client = Client()
    client.force_login(user)
    _, counts = cab_queue_for(user)
    print(f"queue for {user.username}: {counts['total']:,} changes waiting")
    measure("CAB queue page", client, "/changes/queue/", queue_sql_timer(user))
    lst = changes_list(state="in_review")
    measure("change list (in_review)", client, "/changes/?state=in_review",
            raw_sql_timer(lst[:50], lst))
    lst_all = changes_list()
    measure("change list (all)", client, "/changes/", raw_sql_timer(lst_all[:50], lst_all))


if __name__ == "__main__":
    main()
