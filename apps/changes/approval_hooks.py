"""Callbacks the apps above changes run when a change becomes approved.

Changes never imports those apps (environments approves the configuration baseline a change
proposes, for one). An app registers a callback in its `AppConfig.ready()` with
`register_approval_hook`; `run_approval_hooks` calls every one inside the transaction that approves
the change (services.change_transition to `approved`, and the retro-approval of an emergency
change), with the locked change and the acting approver. A callback that raises rolls the approval
back with it: what the approval authorises is recorded with it or not at all (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ApprovalHook = Callable[..., None]  # hook(*, change, actor) -> None

_HOOKS: dict[str, ApprovalHook] = {}


def register_approval_hook(name: str, hook: ApprovalHook) -> None:
    """Registering the same name again replaces it (ready() runs again in some tests)."""
    _HOOKS[name] = hook


def unregister_approval_hook(name: str) -> ApprovalHook | None:
    return _HOOKS.pop(name, None)


def run_approval_hooks(*, change: Any, actor: Any) -> None:
    for name in sorted(_HOOKS):
        _HOOKS[name](change=change, actor=actor)
