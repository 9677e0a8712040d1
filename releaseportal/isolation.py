"""Calling code that another app contributes (gate rules, change guards) without letting its
database errors break the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction


def call_isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`; inside a transaction it runs in a savepoint, so a database error it raises
    is rolled back to there and the caller's transaction stays usable."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return fn(*args)
    return fn(*args)
