"""Benchmark: the DORA report pages on the demo data (issue #16: p95 ≤ 300 ms, the open month
included).

Pages: the organisation dashboard for last month and for the open month, every team page and
every service page (last month and open month). Each page group is requested BENCH_ROUNDS times
(default 20) per page through the Django test client, signed in as the executive persona;
prints p50 / p95 / max server time per group, the first request after the cache was cleared
(snapshots kept: what the first visitor after a deploy sees), the query count, and the ratio of
the p95 to the p95 of a baseline page measured in the same process and interleaved with it (the
report run list: one small query, the same middleware and base template), so figures from a
loaded machine stay comparable.

    DATABASE_URL=sqlite:////tmp/rep_demo.sqlite3 .venv/bin/python bench/report_pages.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_rep .venv/bin/python bench/report_pages.py

The database must hold the demo (manage.py migrate && manage.py seed_demo); the bench never
writes to it except the snapshots the pages themselves store."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
TARGET_MS = 300
BASELINE = "/reports/runs/"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(client: Client, url: str) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, len(queries)


def main() -> None:
    from apps.accounts.models import Team, User
    from apps.catalog.models import Service
    from apps.reports.periods import Month, report_timezone

    viewer = User.objects.filter(groups__name="executive", is_active=True).order_by("pk").first()
    if viewer is None:
        sys.exit("No executive: load the demo first (manage.py seed_demo).")
    client = Client()
    client.force_login(viewer)
    open_month = Month.containing(timezone.now(), report_timezone())
    last = open_month.previous()
    teams = list(Team.objects.order_by("slug").values_list("slug", flat=True))
    services = list(Service.objects.order_by("slug").values_list("slug", flat=True))
    groups = {
        "organisation, last month": [f"/reports/?month={last.label}"],
        "organisation, open month": [f"/reports/?month={open_month.label}"],
        "team pages, last month": [f"/reports/teams/{t}/?month={last.label}" for t in teams],
        "team pages, open month": [f"/reports/teams/{t}/?month={open_month.label}" for t in teams],
        "service pages, last month": [f"/reports/services/{s}/?month={last.label}" for s in services],
        "service pages, open month": [f"/reports/services/{s}/?month={open_month.label}" for s in services],
    }
    timed(client, BASELINE)  # the process's own first request (URL resolver, templates)
    cache.clear()
    print(f"{connection.vendor}, {len(teams)} teams, {len(services)} services, {ROUNDS} rounds per page; "
          f"baseline {BASELINE}")
    print(f"{'page group':28} {'first':>8} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>7} {'p95/base':>8}")
    worst = 0.0
    for name, urls in groups.items():
        first = max(timed(client, url)[0] for url in urls[:1])
        times, base, queries = [], [], 0
        for _ in range(ROUNDS):
            for url in urls:
                elapsed, count = timed(client, url)
                times.append(elapsed)
                queries = max(queries, count)
            base.append(timed(client, BASELINE)[0])
        p95 = pct(times, 0.95)
        worst = max(worst, p95)
        print(f"{name:28} {first:7.0f}ms {pct(times, 0.5):5.0f}ms {p95:5.0f}ms {max(times):5.0f}ms {queries:7d} "
              f"{p95 / pct(base, 0.95):7.1f}x")
    print(f"worst p95 {worst:.0f} ms (target ≤ {TARGET_MS} ms): {'ok' if worst <= TARGET_MS else 'OVER'}")


if __name__ == "__main__":
    main()
