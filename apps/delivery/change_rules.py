"""What delivery asks the changes app: schedule blockers, emergency overrides, deployability.

The changes app owns these rules (`apps.changes.selectors`). They are imported lazily so this
app keeps working, with a conservative fallback, on a tree where they are not there yet."""

from __future__ import annotations

from typing import Any

# States in which a change may be deployed when the changes app gives no answer of its own.
_FALLBACK_DEPLOYABLE = {"approved", "scheduled", "implementing"}


def _selector(name: str):
    try:
        from apps.changes import selectors
    except ImportError:
        return None
    return getattr(selectors, name, None)


def schedule_blockers(*, service, environment, at, change=None) -> list[tuple[str, str]]:
    real = _selector("schedule_blockers")
    if real is None:
        return []
    return [(str(code), str(message)) for code, message in real(service=service, environment=environment, at=at,
                                                                 change=change)]


def active_emergency_override(change) -> Any:
    real = _selector("active_emergency_override")
    if real is None or change is None:
        return None
    return real(change)


def change_is_deployable(change) -> bool:
    real = _selector("change_is_deployable")
    if real is None:
        return change.state in _FALLBACK_DEPLOYABLE
    return bool(real(change))
