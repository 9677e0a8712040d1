"""Benchmark: open an access review campaign over 50,000 production grants, then load the
reviewer page of the busiest reviewer.

Prints: time to open the campaign (aim ≤ 30 s), the reviewer page's query count (fixed:
the same with 50 or 5,000 items) and its p95 server time (aim ≤ 150 ms), each beside a
raw-SQL baseline over the same rows run in the same process; then the grants API, one htmx
decision (queries, p95) and a bulk decision over every open item of one reviewer.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_access .venv/bin/python bench/access_review.py
    BENCH_SCALE=0.01 ...   # 500 grants, for a quick run

Without DATABASE_URL it uses an SQLite file under /tmp (never the shared var/ database)."""

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
    os.environ.setdefault("RP_VAR_DIR", "/tmp/rp_bench_access")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
TOTAL_GRANTS = max(40, int(50_000 * SCALE))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "30"))
TEAMS = 10


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def setup_data():
    from django.contrib.auth.models import Group

    from apps.access_reviews.models import AccessGrant, CampaignReport, ReviewCampaign, ReviewItem
    from apps.accounts.models import Team, TeamMembership, User
    from apps.accounts.roles import ensure_roles
    from apps.catalog.models import Environment, Service

    ensure_roles()
    # Start clean: earlier runs' campaigns and grants. Raw deletes: an ORM delete would write a
    # history row per deleted object, which is not what is measured here.
    with connection.cursor() as cursor:
        for model in (ReviewItem, CampaignReport, ReviewCampaign.reviewers.through, ReviewCampaign, AccessGrant):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")

    prod, _ = Environment.objects.get_or_create(slug="prod", defaults={"name": "Production", "order": 30,
                                                                       "is_production": True})
    services_count = max(TEAMS, int(round(100 * math.sqrt(SCALE))))
    users_count = math.ceil(TOTAL_GRANTS / services_count)

    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"first_name": "Bench"})
    admin.groups.add(Group.objects.get(name="access_admin"))
    teams = []
    for i in range(TEAMS):
        lead, _ = User.objects.get_or_create(username=f"bench-lead-{i}", defaults={"first_name": f"Lead {i}"})
        team, _ = Team.objects.get_or_create(slug=f"bench-team-{i}", defaults={"name": f"Bench team {i}"})
        team.lead = lead
        team.save(update_fields=["lead"])
        TeamMembership.objects.get_or_create(team=team, user=lead, defaults={"role": "lead"})
        teams.append(team)
    existing = set(Service.objects.filter(slug__startswith="bench-svc-").values_list("slug", flat=True))
    Service.objects.bulk_create([
        Service(slug=f"bench-svc-{i}", name=f"Bench service {i}", owner_team=teams[i % TEAMS], tier=2,
                compliance_scopes=["sox"]) for i in range(services_count) if f"bench-svc-{i}" not in existing])
    services = list(Service.objects.filter(slug__startswith="bench-svc-").order_by("pk")[:services_count])
    existing = set(User.objects.filter(username__startswith="bench-user-").values_list("username", flat=True))
    User.objects.bulk_create([User(username=f"bench-user-{i}", first_name=f"User {i}", password="!")
                              for i in range(users_count) if f"bench-user-{i}" not in existing], batch_size=2000)
    users = list(User.objects.filter(username__startswith="bench-user-").order_by("pk")[:users_count])
    now = timezone.now()
    grants = []
    for s_index, service in enumerate(services):
        for u_index, user in enumerate(users):
            if len(grants) >= TOTAL_GRANTS:
                break
            grants.append(AccessGrant(
                user=user, privilege="approver", service=service, environment=prod, granted_by=admin,
                granted_at=now - timedelta(days=30 + (u_index % 300)), justification="bench",
                last_used_at=None if (u_index + s_index) % 4 == 0 else now - timedelta(days=(u_index * 7) % 200)))
    AccessGrant.objects.bulk_create(grants, batch_size=5000)
    return admin, teams


def raw_reviewer_page(reviewer_id: int) -> None:
    """The reviewer page's reads written by hand, in the page's shape: count, one page of items
    with their campaign, then those items' grants with holder, service, team and environment."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM access_reviews_reviewitem i JOIN access_reviews_reviewcampaign c ON c.id = i.campaign_id "
            "WHERE i.reviewer_id = %s AND i.decision = '' AND c.status = 'open'", [reviewer_id])
        cursor.fetchone()
        cursor.execute(
            "SELECT i.grant_id, i.*, c.status FROM access_reviews_reviewitem i "
            "JOIN access_reviews_reviewcampaign c ON c.id = i.campaign_id "
            "WHERE i.reviewer_id = %s AND i.decision = '' AND c.status = 'open' ORDER BY i.id LIMIT 25", [reviewer_id])
        grant_ids = [row[0] for row in cursor.fetchall()] or [0]
        cursor.execute(
            "SELECT g.*, u.username, u.first_name, u.last_name, u.kind, u.is_active, s.slug, s.name, t.name, e.name, "
            "gb.username FROM access_reviews_accessgrant g "
            "JOIN accounts_user u ON u.id = g.user_id JOIN catalog_service s ON s.id = g.service_id "
            "JOIN accounts_team t ON t.id = s.owner_team_id JOIN catalog_environment e ON e.id = g.environment_id "
            "LEFT JOIN accounts_user gb ON gb.id = g.granted_by_id WHERE g.id IN (" + ", ".join(["%s"] * len(grant_ids))
            + ")", grant_ids)
        cursor.fetchall()


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
    print(f"== access review benchmark: {TOTAL_GRANTS} grants (BENCH_SCALE={SCALE}), {connection.vendor}")
    ensure_database()
    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    admin, teams = setup_data()
    print(f"set-up (grants bulk-created): {time.perf_counter() - t0:.1f} s")

    from apps.access_reviews.models import AccessGrant, ReviewItem
    from apps.access_reviews.services import campaign_open
    from apps.audit.actor import Actor, acting_as

    grants = AccessGrant.objects.count()
    with acting_as(Actor.for_command("bench", user=admin)) as actor:
        t0 = time.perf_counter()
        campaign = campaign_open(name="Bench review", due_date=timezone.localdate() + timedelta(days=30), actor=actor)
        open_seconds = time.perf_counter() - t0
    items = ReviewItem.objects.filter(campaign=campaign).count()
    if connection.vendor == "postgresql":
        # What autovacuum does shortly after a bulk load: statistics (without them the planner thinks
        # the tables are empty), and the dead rows of earlier runs' items cleared from the indexes.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) access_reviews_reviewitem")
            cursor.execute("ANALYZE")
    # Baseline: the same rows inserted by one raw INSERT … SELECT (no assignment logic, no history, no audit).
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_items AS SELECT g.id AS grant_id, t.lead_id AS reviewer_id FROM "
            "access_reviews_accessgrant g JOIN catalog_service s ON s.id = g.service_id "
            "JOIN accounts_team t ON t.id = s.owner_team_id")
        cursor.execute("DROP TABLE bench_items")
    raw_open = time.perf_counter() - t0
    print(f"open campaign over {grants} grants → {items} items: {open_seconds:.2f} s (aim ≤ 30 s); "
          f"raw INSERT…SELECT of the same rows: {raw_open:.3f} s; ratio {open_seconds / max(raw_open, 1e-6):.0f}x")

    reviewer = max((t.lead for t in teams), key=lambda u: ReviewItem.objects.filter(reviewer=u).count())
    mine = ReviewItem.objects.filter(reviewer=reviewer, campaign=campaign).count()
    client = Client()
    client.force_login(reviewer)
    client.get("/access/reviews/")  # warm-up
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/access/reviews/")
    assert response.status_code == 200, response.status_code
    page_queries = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/access/reviews/?page=3&inactive=1")
    filtered_queries = len(ctx.captured_queries)
    timings = []
    for i in range(REQUESTS):
        t0 = time.perf_counter()
        client.get("/access/reviews/" + ("?page=2" if i % 3 == 1 else ""))
        timings.append((time.perf_counter() - t0) * 1000)
    raw = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        raw_reviewer_page(reviewer.pk)
        raw.append((time.perf_counter() - t0) * 1000)
    print(f"reviewer page ({reviewer.username}, {mine} open items, 25 per page): {page_queries} queries "
          f"({filtered_queries} filtered, page 3); p95 {p95(timings):.1f} ms, median {statistics.median(timings):.1f} ms "
          f"(aim ≤ 150 ms)")
    print(f"raw SQL of the same selector (count + page): p95 {p95(raw):.1f} ms, median {statistics.median(raw):.1f} ms; "
          f"page/raw p95 ratio {p95(timings) / max(p95(raw), 1e-6):.1f}x")

    # Grants API list (first page of 50 among all grants), same comparison.
    from apps.accounts.services import api_token_create

    auditor_token = None
    with acting_as(Actor.for_command("bench", user=admin)):
        _, auditor_token = api_token_create(user=admin, name="bench", actor=admin, scopes=["access:read"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {auditor_token}")
    api.get("/api/v1/access/grants/?active=true")
    api_response = api.get("/api/v1/access/grants/?active=true")
    assert api_response.status_code == 200, api_response.content[:200]
    api_times = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        api.get("/api/v1/access/grants/?active=true")
        api_times.append((time.perf_counter() - t0) * 1000)
    print(f"GET /api/v1/access/grants/?active=true over {grants} grants (first page of 50): "
          f"p95 {p95(api_times):.1f} ms, median {statistics.median(api_times):.1f} ms")

    # Deciding, as another lead: one item at a time through htmx, then "revoke all matching" over
    # the rest of their open items in one bulk request.
    from django.urls import reverse

    lead = next(t.lead for t in teams if t.lead_id != reviewer.pk)
    decider = Client()
    decider.force_login(lead)
    ids = list(ReviewItem.objects.filter(reviewer=lead, decision="").order_by("pk").values_list("pk", flat=True))
    htmx_ids = ids[:REQUESTS + 1]
    with CaptureQueriesContext(connection) as ctx:
        response = decider.post(reverse("access_reviews:item-decide", args=[htmx_ids[0]]), {"decision": "revoke"},
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"by " + lead.username.encode() in response.content, response.content[:300]
    decide_queries = len(ctx.captured_queries)
    decide_times = []
    for pk in htmx_ids[1:]:
        t0 = time.perf_counter()
        decider.post(reverse("access_reviews:item-decide", args=[pk]), {"decision": "revoke"}, HTTP_HX_REQUEST="true")
        decide_times.append((time.perf_counter() - t0) * 1000)
    print(f"htmx decision on one item: {decide_queries} queries; p95 {p95(decide_times):.1f} ms, "
          f"median {statistics.median(decide_times):.1f} ms")
    remaining = ReviewItem.objects.filter(reviewer=lead, decision="").count()
    t0 = time.perf_counter()
    response = decider.post(reverse("access_reviews:items-bulk"), {"scope": "matching", "decision": "revoke"})
    bulk_seconds = time.perf_counter() - t0
    assert response.status_code == 302 and not ReviewItem.objects.filter(reviewer=lead, decision="").exists()
    print(f"bulk decision on all {remaining} remaining items of {lead.username} (one request): {bulk_seconds:.2f} s")


if __name__ == "__main__":
    main()
