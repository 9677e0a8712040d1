"""What the single sign-on settings page shows: the group mapping as it stands, who changed each
group last and when (its history rows), the mapping's recent changes from the audit trail, and
the break-glass accounts. A fixed number of queries, however large the mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from apps.accounts.models import Team
from apps.audit.models import AuditEvent

from .models import BreakGlassAccount, GroupMapping
from .provider import provider_settings, sso_enabled

MAPPING_ACTIONS = ("sso.group_mapping_added", "sso.group_mapping_imported")
RECENT_CHANGES = 20


@dataclass
class MappedGroup:
    group: str
    roles: list[str] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    changed_at: datetime | None = None
    changed_by: Any = None  # the account, or the actor's label when no account acted
    changed_by_label: str = ""


def mapped_groups() -> list[MappedGroup]:
    """Every group of the mapping with the roles and teams it confers and its last change. Two
    queries: the rows with their teams, and the history of those groups."""
    groups: dict[str, MappedGroup] = {}
    for row in GroupMapping.objects.select_related("team").order_by("group", "role", "team__name"):
        entry = groups.setdefault(row.group, MappedGroup(group=row.group))
        if row.role:
            entry.roles.append(row.role)
        else:
            entry.teams.append(row.team)
    if groups:
        # A group's last change is its newest history row: a row added, or one removed by an import.
        history = (GroupMapping.history.filter(group__in=list(groups)).select_related("history_user")
                   .order_by("group", "-history_date", "-history_id"))
        for row in history:
            entry = groups[row.group]
            if entry.changed_at is None:
                entry.changed_at = row.history_date
                entry.changed_by = row.history_user
                entry.changed_by_label = row.history_actor_label
    return list(groups.values())


def recent_mapping_changes(limit: int = RECENT_CHANGES) -> list[AuditEvent]:
    """The newest audit events of the mapping: rows added and policy imports (with their diff)."""
    return list(AuditEvent.objects.filter(action__in=MAPPING_ACTIONS).select_related("actor").order_by("-seq")[:limit])


def sso_settings_page() -> dict[str, Any]:
    config = provider_settings() if sso_enabled() else None
    return {
        "sso_enabled": config is not None,
        "provider": config,
        "password_login": settings.LOCAL_PASSWORD_LOGIN,
        "groups": mapped_groups(),
        "changes": recent_mapping_changes(),
        "break_glass": list(BreakGlassAccount.objects.select_related("user").order_by("user__username")),
    }
