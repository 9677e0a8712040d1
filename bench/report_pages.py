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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._pages import ROUNDS, measure, signed_in, timed  # noqa: E402  (sets Django up)

BASELINE = "/reports/runs/"


def main() -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.utils import timezone

    from apps.accounts.models import Team, User
    from apps.catalog.models import Service
    from apps.reports.periods import Month, report_timezone

    viewer = User.objects.filter(groups__name="executive", is_active=True).order_by("pk").first()
    if viewer is None:
        sys.exit("No executive: load the demo first (manage.py seed_demo).")
    client = signed_in(viewer)
    open_month = Month.containing(timezone.now(), report_timezone())
    last = open_month.previous()
    teams = list(Team.objects.order_by("slug").values_list("slug", flat=True))
    services = list(Service.objects.order_by("slug").values_list("slug", flat=True))
    groups = {
        "organisation, last month": (client, [f"/reports/?month={last.label}"]),
        "organisation, open month": (client, [f"/reports/?month={open_month.label}"]),
        "team pages, last month": (client, [f"/reports/teams/{t}/?month={last.label}" for t in teams]),
        "team pages, open month": (client, [f"/reports/teams/{t}/?month={open_month.label}" for t in teams]),
        "service pages, last month": (client, [f"/reports/services/{s}/?month={last.label}" for s in services]),
        "service pages, open month": (client, [f"/reports/services/{s}/?month={open_month.label}" for s in services]),
    }
    timed(client, BASELINE)  # the process's own first request (URL resolver, templates)
    cache.clear()
    print(f"{connection.vendor}, {len(teams)} teams, {len(services)} services, {ROUNDS} rounds per page; "
          f"baseline {BASELINE}")
    measure(groups, BASELINE)


if __name__ == "__main__":
    main()
