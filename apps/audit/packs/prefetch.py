"""Reading the next chunk of a pack while the current one is written.

Writing a pack alternates two kinds of work: PostgreSQL answering a chunk's queries, and
Python turning the answers into files. Done in turn, the database and the writer each wait for
the other. `prefetched` runs the reading generator in a thread with a connection of its own,
at most `ahead` chunks in advance (so memory stays bounded), and the database works while the
writer writes: on two cores most of the queries' time disappears from the pack's.

It runs serially when it cannot be done safely: on SQLite (one writer, and an in-memory test
database is private to its connection) and inside a transaction (another connection would not
see its uncommitted rows). The chunks, and so the pack, are the same either way.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.db import connection, connections

T = TypeVar("T")

_DONE = object()


def can_prefetch() -> bool:
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def prefetched(produce: Callable[[], Iterator[T]], *, ahead: int = 2,
               setup_sql: tuple[str, ...] = ()) -> Iterator[T]:
    """The items `produce()` yields, read in a background thread when `can_prefetch()`."""
    if not can_prefetch():
        yield from produce()
        return
    items: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            if setup_sql:
                with connections["default"].cursor() as cursor:
                    for sql in setup_sql:
                        cursor.execute(sql)
            for item in produce():
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the writer, which raises it
            put(exc)
        finally:
            connections["default"].close()

    worker = threading.Thread(target=run, name="evidence-pack-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
