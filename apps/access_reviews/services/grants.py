"""Grant services: create, revoke, expire, flag, record use. Each one that changes what a grant
allows re-derives the guardian permissions of the (user, service) pairs it touched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from apps.audit.actor import resolve_actor
from apps.audit.history import history_attrs, history_copy_many
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from ..derivation import permissions_sync, permissions_sync_many
from ..models import AccessGrant, Privilege
from .bulk import update_in_groups


def _grant_details(grant: AccessGrant) -> dict[str, Any]:
    return {
        "user": grant.user.username, "privilege": grant.privilege, "service": grant.service.slug,
        "environment": grant.environment.slug,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
    }


def grant_create(*, user, privilege: str, service, environment, justification: str, actor: Any,
                 expires_at: datetime | None = None, now: datetime | None = None) -> AccessGrant:
    resolved = resolve_actor(actor)
    now = now or timezone.now()
    fields: dict[str, list[str]] = {}
    if privilege not in Privilege.values:
        fields["privilege"] = [f"One of: {', '.join(Privilege.values)}."]
    if not (justification or "").strip():
        fields["justification"] = ["Say why this privilege is needed."]
    if expires_at is not None and expires_at <= now:
        fields["expires_at"] = ["Must be in the future."]
    if not user.is_active or user.kind == "system":
        fields["user"] = ["Only active people and service accounts can hold privileges."]
    if fields:
        raise InvalidInput("The grant is not valid: " + ", ".join(fields) + ".", fields=fields)
    if resolved.user is not None and resolved.user.pk == user.pk and resolved.kind == "user":
        raise NotAllowed("Nobody grants a privilege to themselves.", code="self_grant_forbidden")
    grant = AccessGrant(user=user, privilege=privilege, service=service, environment=environment,
                        granted_by=resolved.user, granted_at=now, justification=justification.strip(),
                        expires_at=expires_at)
    try:
        with transaction.atomic():
            grant._history_user = resolved.user
            grant.save()
            permissions_sync(user=user, service=service)
            audit_event_record(action="access_grant.created", target=grant, actor=resolved,
                               details={**_grant_details(grant), "justification": grant.justification})
    except IntegrityError as exc:
        raise Conflict(f"{user.username} already holds {privilege} on {service.slug} in {environment.slug}.",
                       code="grant_exists") from exc
    return grant


def grant_revoke(*, grant: AccessGrant, reason: str, actor: Any, now: datetime | None = None) -> AccessGrant:
    """Revoke at once: the permission is gone when this transaction commits."""
    if not (reason or "").strip():
        raise InvalidInput("Say why the grant is revoked.", fields={"reason": ["This field is required."]})
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = (AccessGrant.objects.select_for_update(of=("self",))
                  .select_related("user", "service", "environment").get(pk=grant.pk))
        if locked.revoked_at is not None or locked.expired_at is not None:
            raise Conflict("This grant has already ended.", code="grant_not_active")
        locked.revoked_at = now or timezone.now()
        locked.revoked_by = resolved.user
        locked.revoked_reason = reason.strip()[:300]
        locked._history_user = resolved.user
        locked._change_reason = "revoked"
        locked.save()
        permissions_sync(user=locked.user, service=locked.service)
        audit_event_record(action="access_grant.revoked", target=locked, actor=resolved,
                           details={**_grant_details(locked), "reason": locked.revoked_reason})
    return locked


def grants_revoke_many(*, grants: list[AccessGrant], reasons: dict[int, str], actor: Any,
                       now: datetime | None = None, extra_details: dict[int, dict] | None = None) -> list[AccessGrant]:
    """Revoke a batch in one transaction (campaign close): history, audit events and the
    permissions of every touched pair, with a fixed number of statements per batch.
    The caller holds the locks (it selected the grants FOR UPDATE)."""
    now = now or timezone.now()
    user, _ = history_attrs(actor)
    live = [g for g in grants if g.revoked_at is None and g.expired_at is None]
    for grant in live:
        grant.revoked_at = now
        grant.revoked_by = user
        grant.revoked_reason = reasons[grant.pk][:300]
    with transaction.atomic():
        # Reasons repeat (one per decider, one for the policy): an UPDATE per reason and thousand
        # grants, then their history rows copied from them.
        update_in_groups(AccessGrant, {g.pk: {"revoked_at": now, "revoked_by": user,
                                              "revoked_reason": g.revoked_reason} for g in live})
        history_copy_many(AccessGrant, [g.pk for g in live], actor=actor, when=now, reason="revoked")
        permissions_sync_many(pairs=[(g.user_id, g.service_id) for g in live])
        audit_events_record_many(events=[
            PendingEvent(action="access_grant.revoked", target=g,
                         details={**_grant_details(g), "reason": g.revoked_reason, **(extra_details or {}).get(g.pk, {})})
            for g in live
        ], actor=actor)
    return live


def grant_set_expiry(*, grants: list[AccessGrant], expires_at: dict[int, datetime], actor: Any,
                     reason: str) -> list[AccessGrant]:
    """Shorten grants to a date (a reviewer's "keep until"); never lengthens one."""
    changed = []
    for grant in grants:
        new = expires_at[grant.pk]
        if grant.expires_at is None or new < grant.expires_at:
            grant.expires_at = new
            changed.append(grant)
    with transaction.atomic():
        update_in_groups(AccessGrant, {g.pk: {"expires_at": g.expires_at} for g in changed})
        history_copy_many(AccessGrant, [g.pk for g in changed], actor=actor, when=timezone.now(), reason=reason)
        audit_events_record_many(events=[
            PendingEvent(action="access_grant.expiry_set", target=g, details={**_grant_details(g), "reason": reason})
            for g in changed
        ], actor=actor)
    return changed


def grants_expire_due(*, actor: Any, now: datetime | None = None) -> int:
    """Mark grants whose expiry passed as expired and drop their permissions (beat, idempotent)."""
    now = now or timezone.now()
    user, attrs = history_attrs(actor)
    with transaction.atomic():
        due = list(AccessGrant.objects.select_for_update(of=("self",), skip_locked=True)
                   .select_related("user", "service", "environment")
                   .filter(revoked_at__isnull=True, expired_at__isnull=True, expires_at__lte=now)[:5000])
        for grant in due:
            grant.expired_at = now
        bulk_update_with_history(due, AccessGrant, ["expired_at"], batch_size=1000, default_user=user,
                                 default_change_reason="expired", default_date=now, custom_historical_attrs=attrs)
        permissions_sync_many(pairs=[(g.user_id, g.service_id) for g in due])
        audit_events_record_many(events=[
            PendingEvent(action="access_grant.expired", target=g, details=_grant_details(g)) for g in due
        ], actor=actor)
    return len(due)


def grants_flag_for_review(*, user, team, actor: Any, now: datetime | None = None) -> int:
    """The person left `team`: mark what they hold on its services for the reviewers."""
    now = now or timezone.now()
    reason = f"Left team {team.name} on {now:%Y-%m-%d}"
    attrs_user, attrs = history_attrs(actor)
    with transaction.atomic():
        grants = list(AccessGrant.objects.active(now).select_for_update(of=("self",))
                      .select_related("user", "service", "environment")
                      .filter(user=user, service__owner_team=team))
        for grant in grants:
            grant.flagged_at = now
            grant.flag_reason = reason
        bulk_update_with_history(grants, AccessGrant, ["flagged_at", "flag_reason"], default_user=attrs_user,
                                 default_change_reason="flagged for review", custom_historical_attrs=attrs)
        audit_events_record_many(events=[
            PendingEvent(action="access_grant.flagged", target=g, details={**_grant_details(g), "reason": reason})
            for g in grants
        ], actor=actor)
    return len(grants)


def grant_record_use(*, user, privilege: str, service, environment, at: datetime | None = None) -> int:
    """A deployment, an approval or a gate check exercised a privilege: one UPDATE, no history
    (last_used_at is bookkeeping, not a governed change)."""
    at = at or timezone.now()
    qs = AccessGrant.objects.filter(user_id=user.pk, privilege=privilege, service_id=service.pk,
                                    revoked_at__isnull=True, expired_at__isnull=True)
    if environment is not None:
        qs = qs.filter(environment_id=environment.pk)
    return qs.exclude(last_used_at__gte=at).update(last_used_at=at)
