"""The group mapping as policy: YAML in the shape of the change-type policy
(apps/change_types/policy.py): a `version` and a list, one entry per provider group with the roles
and teams it confers.

    version: 1
    group_mappings:
      - group: rp-approvers
        roles: [approver, cab_member]
        teams: [payments]

`export_mapping()` writes the file; `plan_import(text)` validates it (refusing with the line and
the reason) and returns the diff; `apply_import(plan, actor=...)` applies it in one transaction,
one history row per mapping row added or removed and one audit event for the import. A group the
file lists gets exactly the roles and teams listed (empty lists remove it); a group the file does
not list is left as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from apps.accounts.models import Team
from apps.accounts.roles import ROLES
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.policy_import import LineLoader as _LineLoader
from releaseportal.policy_import import PolicyError

from .models import GroupMapping

POLICY_VERSION = 1


def _current() -> dict[str, tuple[set[str], set[str]]]:
    groups: dict[str, tuple[set[str], set[str]]] = {}
    for mapping in GroupMapping.objects.select_related("team"):
        roles, teams = groups.setdefault(mapping.group, (set(), set()))
        if mapping.role:
            roles.add(mapping.role)
        else:
            teams.add(mapping.team.slug)
    return groups


def export_mapping() -> str:
    entries = [{"group": group, "roles": sorted(roles), "teams": sorted(teams)}
               for group, (roles, teams) in sorted(_current().items())]
    header = ("# Release Portal single sign-on group mapping. Edit, then: "
              "manage.py sso_mapping_import FILE --dry-run\n")
    return header + yaml.safe_dump({"version": POLICY_VERSION, "group_mappings": entries}, sort_keys=False,
                                   allow_unicode=True)


@dataclass
class ImportPlan:
    groups: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    diff: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.diff)


def _names(raw: Any, line: int, what: str) -> set[str]:
    if raw is None:
        return set()
    if not isinstance(raw, list) or not all(isinstance(item, str) and item.strip() for item in raw):
        raise PolicyError(line, f"{what} must be a list of names, not {raw!r}")
    return {item.strip() for item in raw}


def parse_mapping(text: str) -> dict[str, tuple[set[str], set[str]]]:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise PolicyError(mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}") from exc
    if not isinstance(data, dict):
        raise PolicyError(1, "the file must be a mapping with 'version' and 'group_mappings'")
    if data.get("version") != POLICY_VERSION:
        raise PolicyError(data.get("__line__", 1), f"version must be {POLICY_VERSION}")
    raw_entries = data.get("group_mappings")
    if not isinstance(raw_entries, list):
        raise PolicyError(data.get("__line__", 1), "group_mappings must be a list")
    known_teams = set(Team.objects.values_list("slug", flat=True))
    parsed: dict[str, tuple[set[str], set[str]]] = {}
    for raw in raw_entries:
        if not isinstance(raw, dict):
            raise PolicyError(data.get("__line__"), "each group mapping must be a mapping")
        line = raw.get("__line__")
        unknown = set(raw) - {"group", "roles", "teams", "__line__"}
        if unknown:
            raise PolicyError(line, f"unknown key(s) {', '.join(sorted(unknown))}")
        group = raw.get("group")
        if not isinstance(group, str) or not group.strip() or len(group.strip()) > 200:
            raise PolicyError(line, f"group must be a name of 1 to 200 characters, not {group!r}")
        group = group.strip()
        if group in parsed:
            raise PolicyError(line, f"group '{group}' appears twice")
        roles = _names(raw.get("roles"), line, f"group '{group}': roles")
        teams = _names(raw.get("teams"), line, f"group '{group}': teams")
        if roles - set(ROLES):
            raise PolicyError(line, f"group '{group}': unknown role(s) {', '.join(sorted(roles - set(ROLES)))}; "
                                    f"roles are {', '.join(ROLES)}")
        if teams - known_teams:
            raise PolicyError(line, f"group '{group}': unknown team(s) {', '.join(sorted(teams - known_teams))}")
        parsed[group] = (roles, teams)
    return parsed


def plan_import(text: str) -> ImportPlan:
    """Validate and diff. Raises PolicyError naming the line and the reason."""
    plan = ImportPlan(groups=parse_mapping(text))
    current = _current()
    for group, (roles, teams) in plan.groups.items():
        old_roles, old_teams = current.get(group, (set(), set()))
        plan.diff += [f"+ {group} → role {r}" for r in sorted(roles - old_roles)]
        plan.diff += [f"- {group} → role {r}" for r in sorted(old_roles - roles)]
        plan.diff += [f"+ {group} → team {t}" for t in sorted(teams - old_teams)]
        plan.diff += [f"- {group} → team {t}" for t in sorted(old_teams - teams)]
    for group in sorted(set(current) - set(plan.groups)):
        plan.notes.append(f"= group {group} is not in the file: left as it is")
    return plan


def apply_import(plan: ImportPlan, *, actor) -> list[str]:
    with atomic_as(actor) as resolved:
        teams = {team.slug: team for team in Team.objects.all()}
        for group, (roles, team_slugs) in plan.groups.items():
            rows = list(GroupMapping.objects.select_related("team").filter(group=group))
            for row in rows:
                if (row.role and row.role not in roles) or (row.team_id and row.team.slug not in team_slugs):
                    history_stamp(row, resolved)
                    row.delete()
            have_roles = {row.role for row in rows if row.role}
            have_teams = {row.team.slug for row in rows if row.team_id}
            for role in sorted(roles - have_roles):
                row = GroupMapping(group=group, role=role)
                history_stamp(row, resolved)
                row.save()
            for slug in sorted(team_slugs - have_teams):
                row = GroupMapping(group=group, team=teams[slug])
                history_stamp(row, resolved)
                row.save()
        audit_event_record(action="sso.group_mapping_imported", actor=resolved, object_type="sso.group_mapping",
                           object_id="group_mapping", object_repr="single sign-on group mapping",
                           details={"diff": plan.diff})
    return plan.diff
