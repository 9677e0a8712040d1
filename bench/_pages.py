"""What bench/report_pages.py and bench/demo_pages.py share: Django set up for the benches, one
timed request through the test client, and the table of p50 / p95 / max per page group against
a baseline page measured in the same process and interleaved with it.

Importing this module sets Django up (the benches import it before anything from the project)."""

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
HEADER = f"{'page group':28} {'first':>8} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>7} {'p95/base':>8}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def timed(client: Client, url: str) -> tuple[float, int]:
    """Server time in ms (a streamed body read to its last byte) and the number of queries."""
    # The query log keeps the last 9,000 queries and CaptureQueriesContext counts by its length:
    # once a run has made that many, every later count would read 0. Each request starts empty.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, len(queries)


def measure(groups: dict[str, tuple[Client, list[str]]], baseline: str) -> float:
    """Time each group's pages ROUNDS times (the baseline page once per round, with the group's
    client), print a line per group and the verdict; returns the worst p95 in ms."""
    print(HEADER)
    worst = 0.0
    for name, (client, urls) in groups.items():
        first = timed(client, urls[0])[0]
        times, base, queries = [], [], 0
        for _ in range(ROUNDS):
            for url in urls:
                elapsed, count = timed(client, url)
                times.append(elapsed)
                queries = max(queries, count)
            base.append(timed(client, baseline)[0])
        p95 = pct(times, 0.95)
        worst = max(worst, p95)
        print(f"{name:28} {first:7.0f}ms {pct(times, 0.5):5.0f}ms {p95:5.0f}ms {max(times):5.0f}ms {queries:7d} "
              f"{p95 / pct(base, 0.95):7.1f}x", flush=True)
    print(f"worst p95 {worst:.0f} ms (target ≤ {TARGET_MS} ms): {'ok' if worst <= TARGET_MS else 'OVER'}")
    return worst
