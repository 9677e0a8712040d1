"""Running the same work in many threads at once, for the tests that prove an invariant under
contention (each thread has its own database connection, closed when it is done)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Start `n` threads that call work(i) together (a barrier); return their results. Fails the
    test with the errors if any thread raised."""
    barrier = threading.Barrier(n)
    results: list = []
    errors: list[BaseException] = []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results.append(work(i))
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == n
    return results
