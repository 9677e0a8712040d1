from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.audit.history import atomic_as
from apps.audit.services import audit_event_record
from releaseportal.errors import InvalidInput

from . import roles
from .models import ApiToken, LoginAttempt, Team, TeamMembership, User
from .tokens import mint


def api_token_create(*, user: User, name: str, actor: Any, scopes: list[str] | None = None,
                     expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Mint a token; the raw value is returned once and never stored."""
    allowed = roles.allowed_scopes(user)
    requested = set(scopes) if scopes else allowed
    unknown = sorted(requested - set(roles.SCOPES))
    if unknown:
        raise InvalidInput(f"Unknown scopes: {', '.join(unknown)}.", fields={"scopes": [f"Unknown: {', '.join(unknown)}"]})
    beyond = sorted(requested - allowed)
    if beyond:
        raise InvalidInput(f"{user.username} may not hold: {', '.join(beyond)}.",
                           fields={"scopes": [f"Not allowed for this account: {', '.join(beyond)}"]})
    if not name.strip():
        raise InvalidInput("A token needs a name.", fields={"name": ["This field is required."]})
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("Expiry must be between 1 and 3650 days.", fields={"expires_in_days": ["1 to 3650."]})
    raw, prefix, token_hash = mint()
    with atomic_as(actor):
        token = ApiToken(
            user=user, name=name.strip()[:100], prefix=prefix, token_hash=token_hash, scopes=sorted(requested),
            created_by=getattr(actor, "user", actor),
            expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        token.save()
        audit_event_record(action="api_token.created", target=token, actor=actor,
                           details={"user": user.username, "scopes": token.scopes,
                                    "expires_at": token.expires_at.isoformat() if token.expires_at else None})
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Any, reason: str = "") -> ApiToken:
    with atomic_as(actor):
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.revoked_reason = reason[:200]
        token.save(update_fields=["revoked_at", "revoked_reason"])
        audit_event_record(action="api_token.revoked", target=token, actor=actor,
                           details={"user": token.user.username, "reason": reason})
    return token


def api_tokens_revoke_for_user(*, user: User, actor: Any, reason: str) -> int:
    """Disable every active token of an account (access review revocations, offboarding)."""
    count = 0
    for token in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
        api_token_revoke(token=token, actor=actor, reason=reason)
        count += 1
    return count


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


def login_attempts_exceeded(*, username: str, ip: str) -> bool:
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    limit = settings.LOGIN_FAILURE_LIMIT
    failures = LoginAttempt.objects.filter(at__gte=since, succeeded=False)
    return (failures.filter(username__iexact=username).count() >= limit
            or failures.filter(ip=ip).count() >= limit * 4)


def login_attempt_record(*, username: str, ip: str, succeeded: bool) -> None:
    LoginAttempt.objects.create(username=username[:150], ip=ip, succeeded=succeeded)
    if succeeded:
        # A successful sign-in clears the slate for that username.
        LoginAttempt.objects.filter(username__iexact=username, succeeded=False).delete()
