"""Single sign-on writes: signing a provider subject in (creating or updating the account and
syncing its roles and teams from the group claim), the group mapping, break-glass flags.

Every sync runs as the OIDC sync actor (`sync_actor()`), so each role or team it grants or takes
away is in the audit log as done by it, whichever request carried the sign-in."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Team, TeamMembership, User
from apps.accounts.roles import ROLES
from apps.accounts.services import (
    team_membership_add,
    team_membership_remove,
    user_role_grant,
    user_role_revoke,
)
from apps.audit.actor import Actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import InvalidInput

from .models import BreakGlassAccount, GroupMapping, OidcIdentity

SYNC_ACTOR_LABEL = "oidc-sync"
_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


def sync_actor() -> Actor:
    return Actor.system(SYNC_ACTOR_LABEL)


def groups_from_claim(value: Any) -> list[str]:
    """The group claim as a sorted list of names: a list of strings (Keycloak, Okta, Entra ID) or
    one string. Anything else counts as no groups."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({item.strip() for item in value if isinstance(item, str) and item.strip()})


def mapped_access(groups: list[str]) -> tuple[set[str], set[str], set[str], set[str]]:
    """(roles the groups confer, team slugs they confer, every role the mapping names, every team
    slug it names). One query."""
    wanted_roles: set[str] = set()
    wanted_teams: set[str] = set()
    all_roles: set[str] = set()
    all_teams: set[str] = set()
    for mapping in GroupMapping.objects.select_related("team"):
        if mapping.role:
            all_roles.add(mapping.role)
            if mapping.group in groups:
                wanted_roles.add(mapping.role)
        else:
            all_teams.add(mapping.team.slug)
            if mapping.group in groups:
                wanted_teams.add(mapping.team.slug)
    return wanted_roles, wanted_teams, all_roles, all_teams


def oidc_sign_in(*, issuer: str, claims: dict, groups_claim: str) -> User:
    """The account of the subject `claims["sub"]` at `issuer`, created on its first sign-in,
    its name and e-mail refreshed, and its roles and teams synced from the groups in `claims`
    on every sign-in. The sync answers for every role and team the mapping names and for those it
    granted before: a group no longer claimed takes its role away now. Roles and teams nobody
    mapped (given by hand) are left alone. An inactive account is returned untouched (the
    callback refuses it)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidInput("The identity provider sent no subject.", fields={"sub": ["Missing."]})
    groups = groups_from_claim(claims.get(groups_claim))
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    actor = sync_actor()
    now = timezone.now()
    with atomic_as(actor):
        identity = (OidcIdentity.objects.select_for_update().select_related("user")
                    .filter(issuer=issuer, subject=subject).first())
        if identity is None:
            user = User(username=_free_username(claims), email=email[:254],
                        first_name=str(claims.get("given_name") or "")[:150],
                        last_name=str(claims.get("family_name") or "")[:150])
            user.set_unusable_password()
            history_stamp(user, actor)
            user.save()
            identity = OidcIdentity(user=user, issuer=issuer, subject=subject, first_seen_at=now)
            audit_event_record(action="sso.account_created", target=user, actor=actor,
                               details={"issuer": issuer, "subject": subject, "username": user.username})
        else:
            user = identity.user
            if email and user.email != email:
                user.email = email[:254]
                history_stamp(user, actor)
                user.save(update_fields=["email"])
        if not user.is_active:
            return user
        wanted_roles, wanted_teams, mapped_roles, mapped_teams = mapped_access(groups)
        held_roles = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        granted, revoked = [], []
        reason = f"OpenID Connect groups at sign-in: {', '.join(groups) or 'none'}"
        for role in sorted(wanted_roles - held_roles):
            user_role_grant(user=user, role=role, actor=actor, reason=reason)
            granted.append(f"role {role}")
        for role in sorted(((mapped_roles | set(identity.synced_roles)) - wanted_roles) & held_roles):
            user_role_revoke(user=user, role=role, actor=actor, reason=reason)
            revoked.append(f"role {role}")
        managed = mapped_teams | set(identity.synced_teams) | wanted_teams
        teams = {team.slug: team for team in Team.objects.filter(slug__in=managed)}
        member_of = set(TeamMembership.objects.filter(user=user, team__slug__in=managed)
                        .values_list("team__slug", flat=True))
        for slug in sorted(wanted_teams - member_of):
            team_membership_add(team=teams[slug], user=user, actor=actor)
            granted.append(f"team {slug}")
        for slug in sorted((managed - wanted_teams) & member_of):
            team_membership_remove(team=teams[slug], user=user, actor=actor)
            revoked.append(f"team {slug}")
        identity.email = email[:254]
        identity.groups = groups
        identity.synced_roles = sorted(wanted_roles)
        identity.synced_teams = sorted(wanted_teams)
        identity.last_sign_in_at = now
        history_stamp(identity, actor)
        identity.save()
        audit_event_record(action="sso.signed_in", target=user, actor=actor,
                           details={"issuer": issuer, "subject": subject, "groups": groups,
                                    "granted": granted, "revoked": revoked})
    return user


def oidc_sign_in_refuse(*, issuer: str, reason: str, claims: dict | None = None) -> None:
    """Record a refused sign-in (a token from another issuer, for another client...)."""
    claims = claims or {}
    audit_event_record(action="sso.sign_in_refused", actor=sync_actor(), object_type="sso.sign_in",
                       object_id=str(claims.get("sub") or "")[:100], object_repr="OpenID Connect sign-in",
                       details={"configured_issuer": issuer, "token_issuer": str(claims.get("iss") or ""),
                                "reason": reason})


def _free_username(claims: dict) -> str:
    """preferred_username, else the e-mail's local part, else `sso-<sub>`: made safe and, when taken,
    suffixed (an account is never joined to an existing one by its name or e-mail)."""
    raw = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0] or f"sso-{claims['sub']}"
    base = _USERNAME_UNSAFE.sub("-", str(raw))[:140].strip("-") or "sso-user"
    taken = set(User.objects.filter(Q(username=base) | Q(username__startswith=f"{base}-"))
                .values_list("username", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# --- the group mapping ------------------------------------------------------------------------

def group_mapping_add(*, group: str, actor: Any, role: str = "", team: Team | None = None) -> GroupMapping:
    group = group.strip()
    if not group:
        raise InvalidInput("A mapping needs a group name.", fields={"group": ["This field is required."]})
    if bool(role) == (team is not None):
        raise InvalidInput("A mapping confers either a role or a team.", fields={"role": ["A role or a team, not both."]})
    if role and role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": [f"Unknown: {role}"]})
    with atomic_as(actor) as resolved:
        existing = GroupMapping.objects.filter(group=group, role=role, team=team).first()
        if existing is not None:
            return existing
        mapping = GroupMapping(group=group, role=role, team=team)
        history_stamp(mapping, resolved)
        mapping.save()
        audit_event_record(action="sso.group_mapping_added", target=mapping, actor=resolved,
                           details={"group": group, "role": role, "team": team.slug if team else ""})
    return mapping


# --- break-glass accounts ---------------------------------------------------------------------

def break_glass_flag(*, user: User, reason: str, actor: Any) -> BreakGlassAccount:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why this account keeps its password.", fields={"reason": ["This field is required."]})
    with atomic_as(actor) as resolved:
        flag = BreakGlassAccount.objects.filter(user=user).first() or BreakGlassAccount(user=user)
        flag.reason = reason[:200]
        history_stamp(flag, resolved)
        flag.save()
        audit_event_record(action="sso.break_glass_flagged", target=user, actor=resolved,
                           details={"user": user.username, "reason": flag.reason})
    return flag


def break_glass_unflag(*, user: User, actor: Any) -> bool:
    with atomic_as(actor) as resolved:
        flag = BreakGlassAccount.objects.filter(user=user).first()
        if flag is None:
            return False
        history_stamp(flag, resolved)
        flag.delete()
        audit_event_record(action="sso.break_glass_removed", target=user, actor=resolved,
                           details={"user": user.username})
    return True
