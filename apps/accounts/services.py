from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import InvalidInput, NotAllowed

from . import roles
from .models import ApiToken, LoginAttempt, LoginThrottle, Team, TeamMembership, User
from .tokens import mint


def api_token_create(*, user: User, name: str, actor: Any, scopes: list[str] | None = None,
                     expires_in_days: int | None = None, parent: ApiToken | None = None) -> tuple[ApiToken, str]:
    """Mint a token; the raw value is returned once and never stored.

    `parent` is the token the request was authenticated with when a token mints a token: the
    child never outranks it (scopes a subset of the parent's, its scopes by default), never
    outlives it (expiry capped at the parent's; none asked means the parent's) and dies with it
    (api_token_revoke; BearerTokenAuthentication checks the whole lineage)."""
    resolved = resolve_actor(actor)
    allowed = roles.allowed_scopes(user)
    unknown = sorted(set(scopes or []) - set(roles.SCOPES))
    if unknown:
        raise InvalidInput(f"Unknown scopes: {', '.join(unknown)}.", fields={"scopes": [f"Unknown: {', '.join(unknown)}"]})
    if not name.strip():
        raise InvalidInput("A token needs a name.", fields={"name": ["This field is required."]})
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("Expiry must be between 1 and 3650 days.", fields={"expires_in_days": ["1 to 3650."]})
    raw, prefix, token_hash = mint()
    with atomic_as(resolved):
        now = timezone.now()
        expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
        if parent is not None:
            # Locked: a revocation of the parent waits for this mint and then takes the child with it.
            parent = ApiToken.objects.select_for_update().get(pk=parent.pk)
            if parent.user_id != user.pk:
                raise NotAllowed("A token mints tokens only for its own account.", code="token_not_owner")
            dead = api_token_dead_ancestor(parent, now=now)
            if dead is not None:
                raise NotAllowed(f"The token used ({dead.prefix}…) or one it was minted from is revoked or expired.",
                                 code="token_parent_inactive")
        requested = set(scopes) if scopes else (set(parent.scopes) if parent is not None
                                                else allowed - roles.OPT_IN_SCOPES)
        beyond = sorted(requested - allowed)
        if beyond:
            raise InvalidInput(f"{user.username} may not hold: {', '.join(beyond)}.",
                               fields={"scopes": [f"Not allowed for this account: {', '.join(beyond)}"]})
        if parent is not None:
            outranks = sorted(requested - set(parent.scopes))
            if outranks:
                raise InvalidInput("A token cannot mint a token with more scopes than its own.",
                                   fields={"scopes": [f"Not held by this token: {', '.join(outranks)}"]})
            if parent.expires_at is not None and (expires_at is None or expires_at > parent.expires_at):
                expires_at = parent.expires_at
        token = ApiToken(user=user, name=name.strip()[:100], prefix=prefix, token_hash=token_hash,
                         scopes=sorted(requested), created_by=resolved.user, expires_at=expires_at, parent=parent)
        token.save()
        audit_event_record(action="api_token.created", target=token, actor=resolved,
                           details={"user": user.username, "scopes": token.scopes,
                                    "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                                    "parent": parent.prefix if parent is not None else None})
    return token, raw


def api_token_dead_ancestor(token: ApiToken, *, now=None) -> ApiToken | None:
    """The first of `token` and the tokens it was minted from (parent, grandparent…) that is
    revoked or expired, or None. One query whatever the depth."""
    now = now or timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return token
    if token.parent_id is None:
        return None
    table = connection.ops.quote_name(ApiToken._meta.db_table)
    # UNION (not UNION ALL) ends the walk even on a cycle someone wrote by hand.
    lineage = RawSQL(f"""
        WITH RECURSIVE lineage(id, parent_id) AS (
            SELECT id, parent_id FROM {table} WHERE id = %s
            UNION
            SELECT t.id, t.parent_id FROM {table} t JOIN lineage ON t.id = lineage.parent_id
        )
        SELECT id FROM lineage
    """, [token.parent_id])  # noqa: S608, S611  (the table name comes from the model; the id is a parameter)
    return (ApiToken.objects.filter(pk__in=lineage).filter(Q(revoked_at__isnull=False) | Q(expires_at__lte=now))
            .order_by("pk").first())


def api_token_revoke(*, token: ApiToken, actor: Any, reason: str = "") -> ApiToken:
    """Revoke a token and, in the same transaction, every token minted from it (children,
    their children…): each with its history row and its own audit event."""
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        now = timezone.now()
        if token.revoked_at is None:
            _revoke_one(token, now=now, reason=reason, actor=resolved)
        frontier = [token.pk]
        while frontier:
            children = list(ApiToken.objects.select_for_update().select_related("user")
                            .filter(parent_id__in=frontier).order_by("pk"))
            for child in children:
                if child.revoked_at is None:
                    _revoke_one(child, now=now, reason=f"minted from revoked token {token.prefix}…", actor=resolved,
                                revoked_with=token)
            frontier = [child.pk for child in children]
    return token


def _revoke_one(token: ApiToken, *, now, reason: str, actor, revoked_with: ApiToken | None = None) -> None:
    token.revoked_at = now
    token.revoked_reason = reason[:200]
    token.save(update_fields=["revoked_at", "revoked_reason"])
    details = {"user": token.user.username, "reason": reason}
    if revoked_with is not None:
        details["revoked_with"] = revoked_with.prefix
    audit_event_record(action="api_token.revoked", target=token, actor=actor, details=details)


def api_tokens_revoke_for_user(*, user: User, actor: Any, reason: str) -> int:
    """Disable every active token of an account (access review revocations, offboarding)."""
    count = 0
    for token in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
        api_token_revoke(token=token, actor=actor, reason=reason)
        count += 1
    return count


@functools.cache
def time_zone_choices() -> tuple[str, ...]:
    """Every IANA timezone name this Python knows, sorted (the profile's picker). Read once per
    process: available_timezones() walks the tz database's files on every call."""
    from zoneinfo import available_timezones

    return tuple(sorted(available_timezones()))


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(time_zone_choices())


def user_time_zone_set(*, user: User, time_zone: str, actor: Any) -> User:
    """Set the timezone `user` reads times in; "" returns them to the portal's TIME_ZONE. A person
    sets only their own. In history and the audit log, in one transaction."""
    resolved = resolve_actor(actor)
    if resolved.kind == "user" and resolved.user.pk != user.pk:
        raise NotAllowed("People choose their own timezone.")
    time_zone = (time_zone or "").strip()
    if time_zone and time_zone not in _known_time_zones():
        raise InvalidInput(f"Unknown timezone '{time_zone[:64]}'.",
                           fields={"time_zone": ["Choose an IANA timezone such as Europe/Berlin."]})
    with atomic_as(resolved):
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = locked.time_zone
        if before == time_zone:
            return locked
        locked.time_zone = time_zone
        locked._change_reason = "timezone chosen"
        history_stamp(locked, resolved)
        locked.save(update_fields=["time_zone"])
        audit_event_record(action="account.time_zone_set", target=locked, actor=resolved,
                           details={"from": before or settings.TIME_ZONE, "to": time_zone or settings.TIME_ZONE})
    user.time_zone = time_zone
    return locked


def team_membership_add(*, team: Team, user: User, actor: Any, role: str = TeamMembership.Role.MEMBER) -> TeamMembership:
    with atomic_as(actor):
        membership, created = TeamMembership.objects.get_or_create(team=team, user=user, defaults={"role": role})
        if created:
            audit_event_record(action="team.member_added", target=team, actor=actor,
                               details={"user": user.username, "role": role})
    return membership


def team_membership_remove(*, team: Team, user: User, actor: Any) -> bool:
    from .signals import member_left_team

    with atomic_as(actor):
        membership = TeamMembership.objects.filter(team=team, user=user).first()
        if membership is None:
            return False
        membership.delete()
        audit_event_record(action="team.member_removed", target=team, actor=actor, details={"user": user.username})
        # Other apps (access reviews) flag what the person held through the team.
        member_left_team.send(sender=Team, team=team, user=user, actor=actor)
    return True


def user_role_grant(*, user: User, role: str, actor: Any, reason: str = "") -> bool:
    """Give `user` a global role (its Django group). False when they already hold it."""
    from django.contrib.auth.models import Group

    if role not in roles.ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": [f"Unknown: {role}"]})
    with atomic_as(actor) as resolved:
        group, _ = Group.objects.get_or_create(name=role)
        if user.groups.filter(pk=group.pk).exists():
            return False
        user.groups.add(group)
        user.__dict__.pop("_role_names", None)
        audit_event_record(action="user.role_granted", target=user, actor=resolved,
                           details={"user": user.username, "role": role, "reason": reason})
    return True


def user_role_revoke(*, user: User, role: str, actor: Any, reason: str = "") -> bool:
    """Take a global role from `user`. False when they did not hold it."""
    with atomic_as(actor) as resolved:
        group = user.groups.filter(name=role).first()
        if group is None:
            return False
        user.groups.remove(group)
        user.__dict__.pop("_role_names", None)
        audit_event_record(action="user.role_revoked", target=user, actor=resolved,
                           details={"user": user.username, "role": role, "reason": reason})
    return True


# A person who signed in from an address within this long is not refused by that address's
# limit: an office NAT shared with someone guessing does not lock its colleagues out.
KNOWN_ADDRESS_DAYS = 30


def login_check_reserve(*, username: str, ip: str) -> bool:
    """Whether a password check for `username` from `ip` may run now. Reserves one of the
    username's LOGIN_FAILURE_LIMIT checks per window atomically (a conditional UPDATE, so 30
    concurrent guesses run at most the limit's worth of checks, on PostgreSQL and SQLite alike);
    a successful sign-in gives the slots back (login_attempt_record). The per-address limit
    (4x the per-username one, counted on LoginAttempt) never applies to a username that signed
    in successfully from that address recently."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    limit = settings.LOGIN_FAILURE_LIMIT
    key = username.lower()[:150]
    if _address_exceeded(key=key, ip=ip, since=since, limit=limit * 4):
        return False
    try:
        with transaction.atomic():
            LoginThrottle.objects.get_or_create(username=key, defaults={"window_started_at": now})
    except IntegrityError:
        pass  # created by a concurrent attempt: the updates below are what count
    rows = LoginThrottle.objects.filter(username=key)
    # The window expired: the reset takes the first slot of the new window in the same statement.
    if rows.filter(window_started_at__lt=since).update(checks=1, window_started_at=now):
        return True
    return bool(rows.filter(checks__lt=limit).update(checks=F("checks") + 1))


def _address_exceeded(*, key: str, ip: str, since, limit: int) -> bool:
    if not ip:
        return False
    attempts = LoginAttempt.objects.filter(ip=ip)
    if attempts.filter(at__gte=since, succeeded=False).count() < limit:
        return False
    known = attempts.filter(username__iexact=key, succeeded=True,
                            at__gte=timezone.now() - timedelta(days=KNOWN_ADDRESS_DAYS)).exists()
    return not known


def login_attempt_record(*, username: str, ip: str, succeeded: bool) -> None:
    LoginAttempt.objects.create(username=username[:150], ip=ip, succeeded=succeeded)
    if succeeded:
        # A successful sign-in clears the slate for that username.
        LoginAttempt.objects.filter(username__iexact=username, succeeded=False).delete()
        LoginThrottle.objects.filter(username=username.lower()[:150]).update(checks=0)
