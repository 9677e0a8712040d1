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

import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
TARGET_MS = 300
BASELINE = "/account/"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(client: Client, url: str) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, len(queries)


def main() -> None:
    from apps.accounts.models import User
    from apps.catalog.models import Service

    clients: dict[str, Client] = {}
    for username in ("erin", "bob", "heidi", "alice"):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            sys.exit(f"No {username}: load the demo first (manage.py seed_demo).")
        clients[username] = Client()
        clients[username].force_login(user)
    services = list(Service.objects.order_by("slug").values_list("slug", flat=True))
    groups = {
        "audit log (erin)": ("erin", ["/audit/log/"]),
        "audit log.csv (erin)": ("erin", ["/audit/log.csv"]),
        "CAB queue (bob)": ("bob", ["/changes/queue/"]),
        "calendar month (heidi)": ("heidi", ["/changes/calendar/"]),
        "calendar week (heidi)": ("heidi", ["/changes/calendar/?view=week"]),
        "calendar day (heidi)": ("heidi", ["/changes/calendar/?view=day"]),
        "service pages (alice)": ("alice", [f"/services/{s}/" for s in services]),
    }
    for client in clients.values():
        timed(client, BASELINE)  # the process's own first requests (URL resolver, templates)
    print(f"{connection.vendor}, {len(services)} services, {ROUNDS} rounds per page; baseline {BASELINE}")
    print(f"{'page group':28} {'first':>8} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>7} {'p95/base':>8}")
    worst = 0.0
    for name, (username, urls) in groups.items():
        client = clients[username]
        first = timed(client, urls[0])[0]
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
