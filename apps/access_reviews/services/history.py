"""Bulk writes bypass simple-history's signals, so they stamp the actor on history rows here."""

from __future__ import annotations

from typing import Any

from apps.audit.actor import Actor, resolve_actor


def history_attrs(actor: Actor | Any) -> tuple[Any, dict[str, str]]:
    resolved = resolve_actor(actor)
    return resolved.user, {"history_actor_kind": resolved.kind, "history_actor_label": resolved.label[:150]}
