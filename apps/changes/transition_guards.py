"""Guards on a change's state moves contributed by the apps above changes (releases: cadence and
compliance checkpoints), without changes importing them.

An app registers a guard in its `AppConfig.ready()` with `register_transition_guard`; the guards
the portal must have are named in `settings.CHANGE_TRANSITION_GUARDS`. One that is named but not
registered is a system check error (`changes.E002`) and refuses every move it would have judged
(`transition_guard_missing`); a guard that raises refuses (`transition_guard_error`): fail closed. `apps.changes.services.transition_refusal` consults
them after its own rules, so every path into a state (pages, API, deployments) is guarded.

A guard is `check(change, to_state) -> PortalError | None`, called only for the target states it
declares."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import checks

from releaseportal.errors import Conflict, PortalError
from releaseportal.isolation import call_isolated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransitionGuard:
    name: str  # "<app label>.<guard>", as listed in settings.CHANGE_TRANSITION_GUARDS
    to_states: frozenset[str]
    check: Callable[..., PortalError | None]


_GUARDS: dict[str, TransitionGuard] = {}


def register_transition_guard(guard: TransitionGuard) -> None:
    _GUARDS[guard.name] = guard


def unregister_transition_guard(name: str) -> TransitionGuard | None:
    """For tests that prove a missing guard fails closed."""
    return _GUARDS.pop(name, None)


def expected_guards() -> list[str]:
    return list(getattr(settings, "CHANGE_TRANSITION_GUARDS", []))


def guard_refusal(change, to_state: str) -> PortalError | None:
    """The first refusal of a registered guard for this move, or a refusal for a missing guard."""
    missing = [name for name in expected_guards() if name not in _GUARDS]
    if missing:
        return Conflict(f"The transition guard {missing[0]} is required by the settings but not installed.",
                        code="transition_guard_missing", fields={"state": ["A required guard is missing."]})
    for name in sorted(_GUARDS):
        guard = _GUARDS[name]
        if to_state in guard.to_states:
            try:
                refusal = call_isolated(guard.check, change, to_state)
            except Exception:
                log.exception("transition guard %s failed", name)
                return Conflict(f"The transition guard {name} could not be evaluated.", code="transition_guard_error",
                                fields={"state": [f"{name} failed."]})
            if refusal is not None:
                return refusal
    return None


@checks.register(checks.Tags.compatibility)
def check_expected_guards(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Error(f"Transition guard {name!r} is named in settings.CHANGE_TRANSITION_GUARDS but no installed "
                         "app registers it.", hint="Install the app whose AppConfig.ready() registers it; until then "
                         "every move it judges is refused.", id="changes.E002")
            for name in expected_guards() if name not in _GUARDS]
