"""Close guards contributed by the apps above changes (validation, ...).

A change may need something recorded elsewhere before it completes or closes (validation: the
first-hour log review of a high-risk production deployment signed off). The changes app imports
none of those apps: each registers a `CloseGuard` in its `AppConfig.ready()` with
`register_close_guard`, and `services.transition_refusal` asks every registered guard on the
moves to `completed` and `closed`. The guards the portal must have are declared in
`settings.CHANGE_CLOSE_GUARDS_EXPECTED`: one declared but not registered is a system check
error (`changes.E001`) and a refusal (`close_guard_missing`) of every such move while it is
missing; a guard that raises refuses (`close_guard_error`). The guard fails closed, never open.

A guard is a function of the change and the target state returning None (no objection) or
`(code, message, fields)`. Keep it to one query, and none when the change is not its concern.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import checks

from releaseportal.isolation import call_isolated

log = logging.getLogger(__name__)

Objection = tuple[str, str, dict[str, list[str]]]  # (code, message, fields)


@dataclass(frozen=True)
class CloseGuard:
    name: str  # "<app label>.<guard>", as listed in settings.CHANGE_CLOSE_GUARDS_EXPECTED
    check: Callable[[Any, str], Objection | None]


_GUARDS: dict[str, CloseGuard] = {}


def register_close_guard(guard: CloseGuard) -> None:
    """Called from an app's `ready()`; the same name again replaces (tests call ready() again)."""
    _GUARDS[guard.name] = guard


def unregister_close_guard(name: str) -> CloseGuard | None:
    """For tests that prove a change cannot close without a declared guard."""
    return _GUARDS.pop(name, None)


def expected_close_guards() -> list[str]:
    return list(getattr(settings, "CHANGE_CLOSE_GUARDS_EXPECTED", []))


def close_objection(change: Any, to_state: str) -> Objection | None:
    """The first objection to moving `change` to `to_state` (completed or closed), or None."""
    for name in expected_close_guards():
        if name not in _GUARDS:
            return ("close_guard_missing", f"The close guard {name} is required by the settings but not installed.",
                    {"state": [f"{name} is not installed."]})
    for name in sorted(_GUARDS):
        guard = _GUARDS[name]
        try:
            objection = call_isolated(guard.check, change, to_state)
        except Exception:
            log.exception("close guard %s failed", name)
            return ("close_guard_error", f"The close guard {name} could not be evaluated.",
                    {"state": [f"{name} failed."]})
        if objection is not None:
            return objection
    return None


@checks.register(checks.Tags.compatibility)
def check_expected_close_guards(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"Close guard {name!r} is declared in settings.CHANGE_CLOSE_GUARDS_EXPECTED but no installed app "
            "registers it.",
            hint="Install the app that provides it (its AppConfig.ready() registers the guard); no change "
                 "completes or closes while it is missing.",
            id="changes.E001",
        )
        for name in expected_close_guards() if name not in _GUARDS
    ]
