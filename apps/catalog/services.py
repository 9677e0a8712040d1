from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.audit.actor import resolve_actor
from apps.audit.services import audit_event_record
from releaseportal.errors import InvalidInput

from .models import COMPLIANCE_SCOPE_KEYS, Service

EDITABLE_FIELDS = ("name", "description", "tier", "compliance_scopes", "repository_url", "is_active")


def service_update(*, service: Service, actor: Any, **changes: Any) -> Service:
    """Edit a service's descriptive fields; records what changed from what."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(unknown)}.",
                           fields={name: ["Not editable."] for name in unknown})
    scopes = changes.get("compliance_scopes")
    if scopes is not None:
        bad = sorted(set(scopes) - set(COMPLIANCE_SCOPE_KEYS))
        if bad:
            raise InvalidInput("Unknown compliance scope.", fields={"compliance_scopes": [f"Unknown: {', '.join(bad)}"]})
        changes["compliance_scopes"] = sorted(set(scopes))
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        diff = {name: {"from": getattr(locked, name), "to": value}
                for name, value in changes.items() if getattr(locked, name) != value}
        if not diff:
            return locked
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["owner_team", "slug"])
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action="service.updated", target=locked, actor=resolved, details={"changes": diff})
    return locked
