"""Every write SCIM makes: people (create, update, deactivate) and teams (create, rename, members).

Each runs in one transaction acting as the SCIM service account: history rows name it and each
change writes one audit event. Membership changes go through apps.accounts' own services, grant
revocations through apps.access_reviews' `grant_revoke` and token revocations through
apps.accounts' `api_tokens_revoke_for_user`, so every guard and trail of those apps applies.

A person is never deleted: the trail names them. Deactivation (SCIM `active: false` or DELETE)
ends, in the same transaction, everything they could still act with: their browser sessions,
their API tokens and their deployment privileges (revoked with the reason the next access
review shows)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from apps.access_reviews.models import AccessGrant
from apps.access_reviews.services import grant_revoke
from apps.accounts.models import Team, TeamMembership, User
from apps.accounts.services import api_tokens_revoke_for_user, team_membership_add, team_membership_remove
from apps.accounts.sessions import sessions_end_for
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput

from .models import ProvisionedTeam, ProvisionedUser

# What the access review shows for a privilege its holder lost by leaving.
DEACTIVATION_REASON = "left the company"

# The User fields a SCIM request may set, by their SCIM names for error messages.
USER_FIELDS = {"username": "userName", "first_name": "name.givenName", "last_name": "name.familyName",
               "email": "emails", "is_active": "active", "external_id": "externalId"}


def managed_users():
    """The accounts SCIM sees and manages: people. Service accounts, the system account and
    superusers (break-glass accounts) are never listed, changed or deactivated by the identity
    provider."""
    return User.objects.filter(kind=User.Kind.HUMAN, is_superuser=False)


def _clean_user_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        label = USER_FIELDS.get(name)
        if label is None:
            raise InvalidInput(f"Unknown attribute {name}.", code="invalidPath", fields={name: ["Unknown attribute."]})
        if name == "is_active":
            if not isinstance(value, bool):
                raise InvalidInput("active must be true or false.", code="invalidValue",
                                   fields={label: ["Must be a boolean."]})
            cleaned[name] = value
            continue
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidInput(f"{label} must be a string.", code="invalidValue", fields={label: ["Must be a string."]})
        value = value.strip()
        if name == "username":
            if not value:
                raise InvalidInput("userName is required.", code="invalidValue", fields={label: ["Required."]})
            if len(value) > 150:
                raise InvalidInput("userName is longer than 150 characters.", code="invalidValue",
                                   fields={label: ["At most 150 characters."]})
            try:
                UnicodeUsernameValidator()(value)
            except ValidationError as exc:
                raise InvalidInput("userName may hold letters, digits and @ . + - _ only.", code="invalidValue",
                                   fields={label: ["Letters, digits and @ . + - _ only."]}) from exc
        elif name == "email" and value:
            try:
                EmailValidator()(value)
            except ValidationError as exc:
                raise InvalidInput(f"{value!r} is not an email address.", code="invalidValue",
                                   fields={label: ["Not an email address."]}) from exc
        elif name in ("first_name", "last_name") and len(value) > 150:
            raise InvalidInput(f"{label} is longer than 150 characters.", code="invalidValue",
                               fields={label: ["At most 150 characters."]})
        elif name == "external_id" and len(value) > 254:
            raise InvalidInput("externalId is longer than 254 characters.", code="invalidValue",
                               fields={label: ["At most 254 characters."]})
        cleaned[name] = value
    return cleaned


def _refuse_taken_username(username: str, *, exclude_pk: int | None = None) -> None:
    # userName is case-insensitive in SCIM (RFC 7643 §4.1.1): Alice and alice are one person.
    taken = User.objects.filter(username__iexact=username)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(f"userName {username!r} is already taken.", code="uniqueness",
                       fields={"userName": ["Already taken."]})


def _external_id_set(user: User, external_id: str) -> bool:
    link = ProvisionedUser.objects.filter(user=user).first()
    if link is None:
        ProvisionedUser.objects.create(user=user, external_id=external_id)
        return True
    if link.external_id == external_id:
        return False
    link.external_id = external_id
    link.save(update_fields=["external_id"])
    return True


def scim_user_create(*, actor: Any, fields: dict[str, Any]) -> User:
    """A person provisioned by the identity provider. They sign in through single sign-on: no
    password is set (a SCIM `password` is never accepted)."""
    cleaned = _clean_user_fields(fields)
    if "username" not in cleaned:
        raise InvalidInput("userName is required.", code="invalidValue", fields={"userName": ["Required."]})
    external_id = cleaned.pop("external_id", "")
    active = cleaned.pop("is_active", True)
    with atomic_as(actor) as resolved:
        _refuse_taken_username(cleaned["username"])
        user = User(kind=User.Kind.HUMAN, is_active=active, **cleaned)
        user.set_unusable_password()
        history_stamp(user, resolved)
        try:
            user.save()
        except IntegrityError as exc:  # a concurrent create of the same userName
            raise Conflict(f"userName {cleaned['username']!r} is already taken.", code="uniqueness",
                           fields={"userName": ["Already taken."]}) from exc
        ProvisionedUser.objects.create(user=user, external_id=external_id)
        audit_event_record(action="scim.user_created", target=user, actor=resolved,
                           details={"user": user.username, "active": user.is_active, "external_id": external_id})
    return user


def scim_user_update(*, actor: Any, user: User, fields: dict[str, Any], replace: bool = False) -> User:
    """Change what the identity provider says about a person. `replace` (a SCIM PUT) blanks the
    names and email it leaves out. Going from active to inactive deactivates (`scim_user_deactivate`)."""
    cleaned = _clean_user_fields(fields)
    if replace:
        if "username" not in cleaned:
            raise InvalidInput("userName is required.", code="invalidValue", fields={"userName": ["Required."]})
        for name in ("first_name", "last_name", "email", "external_id"):
            cleaned.setdefault(name, "")
    deactivate = cleaned.pop("is_active", None) is False
    reactivate = fields.get("is_active") is True
    external_id = cleaned.pop("external_id", None)
    with atomic_as(actor) as resolved:
        user = managed_users().select_for_update().get(pk=user.pk)
        if "username" in cleaned:
            _refuse_taken_username(cleaned["username"], exclude_pk=user.pk)
        changed = {name: {"from": getattr(user, name), "to": value} for name, value in cleaned.items()
                   if getattr(user, name) != value}
        if reactivate and not user.is_active:
            changed["is_active"] = {"from": False, "to": True}
            user.is_active = True
        for name, change in changed.items():
            setattr(user, name, change["to"])
        if external_id is not None and _external_id_set(user, external_id):
            changed["external_id"] = {"to": external_id}
        if changed:
            history_stamp(user, resolved)
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError as exc:  # a concurrent rename to the same userName
                raise Conflict(f"userName {user.username!r} is already taken.", code="uniqueness",
                               fields={"userName": ["Already taken."]}) from exc
            audit_event_record(action="scim.user_updated", target=user, actor=resolved,
                               details={"user": user.username, "changed": changed})
        if deactivate:
            user = scim_user_deactivate(actor=resolved, user=user)
    return user


def scim_user_deactivate(*, actor: Any, user: User, reason: str = DEACTIVATION_REASON) -> User:
    """The person left: deactivate the account (never delete it) and end at once, in this
    transaction, their sessions, their API tokens and their deployment privileges. Idempotent:
    a second call finds nothing left to end and writes nothing."""
    with atomic_as(actor) as resolved:
        user = managed_users().select_for_update().get(pk=user.pk)
        was_active = user.is_active
        if was_active:
            user.is_active = False
        sessions = sessions_end_for(user)
        tokens = api_tokens_revoke_for_user(user=user, actor=resolved, reason=reason)
        grants = list(AccessGrant.objects.active().filter(user=user).order_by("pk"))
        for grant in grants:
            grant_revoke(grant=grant, reason=reason, actor=resolved)
        if was_active or sessions or tokens or grants:
            history_stamp(user, resolved)
            user.save()
            audit_event_record(action="scim.user_deactivated", target=user, actor=resolved,
                               details={"user": user.username, "reason": reason, "sessions_ended": sessions,
                                        "tokens_revoked": tokens, "grants_revoked": [g.pk for g in grants]})
    return user


# --- teams (SCIM groups) -----------------------------------------------------------------------

def _clean_display_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("displayName is required.", code="invalidValue", fields={"displayName": ["Required."]})
    value = value.strip()
    if len(value) > 120:
        raise InvalidInput("displayName is longer than 120 characters.", code="invalidValue",
                           fields={"displayName": ["At most 120 characters."]})
    return value


def _refuse_taken_team_name(name: str, *, exclude_pk: int | None = None) -> None:
    taken = Team.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(f"A team named {name!r} already exists.", code="uniqueness",
                       fields={"displayName": ["Already taken."]})


def _free_slug(name: str) -> str:
    base = (slugify(name) or "team")[:44]
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _members(ids: Iterable[int]) -> list[User]:
    ids = sorted(set(ids))
    users = list(managed_users().filter(pk__in=ids))
    missing = sorted(set(ids) - {u.pk for u in users})
    if missing:
        raise InvalidInput(f"No such user: {', '.join(map(str, missing))}.", code="invalidValue",
                           fields={"members": [f"Unknown user id {m}." for m in missing]})
    return users


def scim_group_create(*, actor: Any, display_name: Any, external_id: str = "",
                      member_ids: Iterable[int] = ()) -> Team:
    name = _clean_display_name(display_name)
    with atomic_as(actor) as resolved:
        _refuse_taken_team_name(name)
        members = _members(member_ids)
        team = Team(slug=_free_slug(name), name=name)
        history_stamp(team, resolved)
        team.save()
        ProvisionedTeam.objects.create(team=team, external_id=(external_id or "")[:254])
        audit_event_record(action="scim.group_created", target=team, actor=resolved,
                           details={"team": team.slug, "name": name, "external_id": external_id or ""})
        for user in members:
            team_membership_add(team=team, user=user, actor=resolved)
    return team


def scim_group_update(*, actor: Any, team: Team, display_name: Any = None, external_id: str | None = None,
                      add: Iterable[int] = (), remove: Iterable[int] = (),
                      members: Iterable[int] | None = None) -> Team:
    """Rename a team and change who is in it. `members` (a SCIM PUT or a replace of `members`)
    is the whole list; `add` and `remove` are what a PATCH names. Each membership added or
    removed is one audit event (apps.accounts' services); leaving a team flags the privileges
    held through it for the access review."""
    with atomic_as(actor) as resolved:
        team = Team.objects.select_for_update().get(pk=team.pk)
        # Only the people SCIM manages: a service account in the team is not the provider's to remove.
        current = set(TeamMembership.objects.filter(team=team, user__in=managed_users())
                      .values_list("user_id", flat=True))
        if members is not None:
            wanted = {u.pk for u in _members(members)}
            to_add, to_remove = wanted - current, current - wanted
        else:
            to_add = {u.pk for u in _members(add)} - current
            to_remove = set(remove) & current
        if display_name is not None:
            name = _clean_display_name(display_name)
            if name != team.name:
                _refuse_taken_team_name(name, exclude_pk=team.pk)
                old = team.name
                team.name = name
                history_stamp(team, resolved)
                team.save()
                audit_event_record(action="scim.group_renamed", target=team, actor=resolved,
                                   details={"team": team.slug, "from": old, "to": name})
        if external_id is not None:
            link = ProvisionedTeam.objects.filter(team=team).first()
            if link is None:
                ProvisionedTeam.objects.create(team=team, external_id=external_id[:254])
            elif link.external_id != external_id:
                link.external_id = external_id[:254]
                link.save(update_fields=["external_id"])
        users = {u.pk: u for u in User.objects.filter(pk__in=to_add | to_remove)}
        for pk in sorted(to_add):
            team_membership_add(team=team, user=users[pk], actor=resolved)
        for pk in sorted(to_remove):
            team_membership_remove(team=team, user=users[pk], actor=resolved)
    return team


def scim_group_empty(*, actor: Any, team: Team) -> Team:
    """A SCIM DELETE of a group: the team stays (changes, services and the trail name it); its
    members leave it and it is no longer linked to the identity provider's group."""
    with atomic_as(actor) as resolved:
        team = scim_group_update(actor=resolved, team=team, members=[])
        ProvisionedTeam.objects.filter(team=team).delete()
        audit_event_record(action="scim.group_unlinked", target=team, actor=resolved, details={"team": team.slug})
    return team
