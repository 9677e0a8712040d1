"""Benchmark: the everyday pages issue #16 names besides the reports (bench/report_pages.py has
those), on the demo data, each as the persona who works there: the audit log and its CSV export
(erin, auditor), the CAB queue (bob, CAB member), the change calendar by month, week and day
(heidi, release manager) and every service page (alice, engineer). Target p95 ≤ 300 ms.

Each page group is requested BENCH_ROUNDS times (default 20) per page through the Django test
client; prints p50 / p95 / max server time per group, the query count, and the ratio of the p95
to the p95 of a baseline page measured in the same process and interleaved with it (the
profile page: a few small queries, the same middleware and base template), so figures from a
loaded machine stay comparable. The CSV is read to its last byte (it streams).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_demo .venv/bin/python bench/demo_pages.py

The database must hold the demo (manage.py migrate && manage.py seed_demo). Every CSV export
appends its own audit event (that is the export's record): point it at a demo database of its own."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._pages import ROUNDS, measure, signed_in, timed  # noqa: E402  (sets Django up)

BASELINE = "/account/"


def main() -> None:
    from django.db import connection

    from apps.accounts.models import User
    from apps.catalog.models import Service

    clients = {}
    for username in ("erin", "bob", "heidi", "alice"):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            sys.exit(f"No {username}: load the demo first (manage.py seed_demo).")
        clients[username] = signed_in(user)
    services = list(Service.objects.order_by("slug").values_list("slug", flat=True))
    groups = {
        "audit log (erin)": (clients["erin"], ["/audit/log/"]),
        "audit log.csv (erin)": (clients["erin"], ["/audit/log.csv"]),
        "CAB queue (bob)": (clients["bob"], ["/changes/queue/"]),
        "calendar month (heidi)": (clients["heidi"], ["/changes/calendar/"]),
        "calendar week (heidi)": (clients["heidi"], ["/changes/calendar/?view=week"]),
        "calendar day (heidi)": (clients["heidi"], ["/changes/calendar/?view=day"]),
        "service pages (alice)": (clients["alice"], [f"/services/{s}/" for s in services]),
    }
    for client in clients.values():
        timed(client, BASELINE)  # the process's own first requests (URL resolver, templates)
    print(f"{connection.vendor}, {len(services)} services, {ROUNDS} rounds per page; baseline {BASELINE}")
    measure(groups, BASELINE)


if __name__ == "__main__":
    main()
