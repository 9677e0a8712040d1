"""Chat channel settings and the messages sent to them.

Channel writes (`chat_channel_create/update/delete`) run in one transaction with a history row
naming the actor and one audit event; neither ever holds the webhook URL (only its hint and
whether it changed). `chat_notify` is called by the apps where things happen (changes,
delivery, incidents, validation), inside their own transaction: it queues one ChatDelivery per
channel of the team that takes the event, and the Celery task that posts each one is sent on
commit, so a change that rolls back sends nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Team
from apps.audit.actor import Actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput

from .models import ChatChannel, ChatDelivery, ChatEvent
from .payloads import payload_for
from .webhooks import ChatRefused, ChatUnavailable, post_json, webhook_hint, webhook_url_problem

log = logging.getLogger(__name__)

UPDATABLE_FIELDS = ("kind", "name", "webhook_url", "events", "enabled")


# --- channel settings ------------------------------------------------------------------------

def _clean_kind(kind: Any) -> str:
    if kind not in ChatChannel.Kind.values:
        raise InvalidInput("Unknown channel kind.", fields={"kind": [f"One of {', '.join(ChatChannel.Kind.values)}."]})
    return kind


def _clean_name(name: Any) -> str:
    name = str(name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("A channel needs a name of at most 100 characters.",
                           fields={"name": ["Required, at most 100 characters."]})
    return name


def _clean_events(events: Any) -> list[str]:
    if not isinstance(events, (list, tuple)) or not events:
        raise InvalidInput("Choose at least one event the channel receives.", fields={"events": ["Choose at least one."]})
    unknown = sorted({str(e) for e in events} - set(ChatEvent.values))
    if unknown:
        raise InvalidInput("Unknown event.", fields={"events": [f"Unknown: {', '.join(unknown)}. "
                                                                f"One of {', '.join(ChatEvent.values)}."]})
    return [e for e in ChatEvent.values if e in set(events)]  # stored in a fixed order


def _clean_url(url: Any) -> str:
    url = str(url or "").strip()
    problem = webhook_url_problem(url)
    if problem:
        raise InvalidInput(problem, fields={"webhook_url": [problem]})
    return url


def _described(channel: ChatChannel) -> dict[str, Any]:
    """What the audit event says of a channel: everything but the URL."""
    return {"team": channel.team.slug, "kind": channel.kind, "name": channel.name, "webhook": channel.webhook_hint,
            "events": channel.events, "enabled": channel.enabled}


def chat_channel_create(*, team: Team, actor: Any, kind: str, name: str, webhook_url: str,
                        events: Sequence[str], enabled: bool = True) -> ChatChannel:
    kind, name, url, events = _clean_kind(kind), _clean_name(name), _clean_url(webhook_url), _clean_events(events)
    now = timezone.now()
    with atomic_as(actor) as resolved:
        channel = ChatChannel(team=team, kind=kind, name=name, webhook_url=url, webhook_hint=webhook_hint(url),
                              events=events, enabled=bool(enabled), created_at=now, updated_at=now)
        history_stamp(channel, resolved)
        try:
            with transaction.atomic():
                channel.save()
        except IntegrityError:
            raise Conflict(f"The team already has a channel named {name}.", code="channel_name_taken",
                           fields={"name": ["Already used in this team."]}) from None
        audit_event_record(action="notifications.channel_created", target=channel, actor=resolved,
                           details=_described(channel))
    return channel


def chat_channel_update(*, channel: ChatChannel, actor: Any, **changes: Any) -> ChatChannel:
    """Change some settings. `webhook_url` left out or blank keeps the stored one."""
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(unknown)}.",
                           fields={name: ["Not editable."] for name in unknown})
    cleaned: dict[str, Any] = {}
    if "kind" in changes:
        cleaned["kind"] = _clean_kind(changes["kind"])
    if "name" in changes:
        cleaned["name"] = _clean_name(changes["name"])
    if changes.get("webhook_url"):
        cleaned["webhook_url"] = _clean_url(changes["webhook_url"])
    if "events" in changes:
        cleaned["events"] = _clean_events(changes["events"])
    if "enabled" in changes:
        cleaned["enabled"] = bool(changes["enabled"])
    with atomic_as(actor) as resolved:
        locked = ChatChannel.objects.select_for_update(of=("self",)).select_related("team").get(pk=channel.pk)
        diff: dict[str, Any] = {}
        for name, value in cleaned.items():
            if getattr(locked, name) == value:
                continue
            if name == "webhook_url":
                diff["webhook"] = {"from": locked.webhook_hint, "to": webhook_hint(value), "replaced": True}
                locked.webhook_hint = webhook_hint(value)
            else:
                diff[name] = {"from": getattr(locked, name), "to": value}
            setattr(locked, name, value)
        if not diff:
            return locked
        locked.updated_at = timezone.now()
        history_stamp(locked, resolved)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise Conflict(f"The team already has a channel named {locked.name}.", code="channel_name_taken",
                           fields={"name": ["Already used in this team."]}) from None
        audit_event_record(action="notifications.channel_updated", target=locked, actor=resolved,
                           details={"team": locked.team.slug, "changes": diff})
    return locked


def chat_channel_delete(*, channel: ChatChannel, actor: Any) -> None:
    with atomic_as(actor) as resolved:
        locked = ChatChannel.objects.select_for_update(of=("self",)).select_related("team").get(pk=channel.pk)
        details = _described(locked)
        audit_event_record(action="notifications.channel_deleted", target=locked, actor=resolved, details=details)
        history_stamp(locked, resolved)
        locked.delete()


# --- messages --------------------------------------------------------------------------------

def portal_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def chat_notify(*, event: str, team_id: int | None, target_type: str, target_id: Any, target_repr: str,
                title: str, path: str, text: str = "",
                facts: Sequence[tuple[str, Any]] | Callable[[], Sequence[tuple[str, Any]]] = ()) -> list[ChatDelivery]:
    """Queue the message for every enabled channel of the team that takes `event`; each is posted
    by a Celery task once the caller's transaction commits (never, if it rolls back). `facts` may
    be a function, called only when some channel takes the event (it may cost queries)."""
    if event not in ChatEvent.values:
        raise ValueError(f"unknown chat event {event!r}")
    if team_id is None:
        return []
    channels = [c for c in ChatChannel.objects.filter(team_id=team_id, enabled=True) if c.receives(event)]
    if not channels:
        return []
    if callable(facts):
        facts = facts()
    now = timezone.now()
    deliveries = ChatDelivery.objects.bulk_create([
        ChatDelivery(channel=channel, event=event, target_type=target_type[:100], target_id=str(target_id)[:64],
                     target_repr=target_repr[:200], title=title[:300], text=text, link=portal_link(path)[:500],
                     facts=[[str(label), str(value)] for label, value in facts], created_at=now)
        for channel in channels])
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: chat_deliveries_hand_over(ids))
    return deliveries


NOT_HANDED_OVER = ("Not yet handed to a worker: the task queue was unavailable ({error}). "
                   "The re-send job tries again within minutes.")


def chat_deliveries_hand_over(ids: list[int]) -> None:
    """Give each queued delivery to the workers (after commit: chat_notify, the re-send job)."""
    from .tasks import deliver_chat_message

    missed: list[int] = []
    error = ""
    for pk in ids:
        try:
            deliver_chat_message.delay(pk)
        except Exception as exc:  # noqa: BLE001
            # The business change is committed; a broker that is down (or an eager run that
            # propagates) must not fail it. The row stays queued, says why on the team's page,
            # and the re-send job (apps/notifications/reaper.py) hands it over again.
            log.warning("chat delivery %s not enqueued: %s", pk, type(exc).__name__)
            missed.append(pk)
            error = type(exc).__name__
    if missed:
        ChatDelivery.objects.filter(pk__in=missed, status=ChatDelivery.Status.QUEUED, attempts=0).update(
            last_error=NOT_HANDED_OVER.format(error=error)[:300])


def chat_delivery_attempt(*, delivery_id: int, last: bool) -> str:
    """Post one delivery once. Returns "sent", "failed" or "done" (nothing to do); raises
    ChatUnavailable when the attempt failed in a way worth retrying and it is not the last one."""
    with transaction.atomic():
        # The row stays locked while it is posted (at most CHAT_WEBHOOK_TIMEOUT_SECONDS): a
        # second task for the same row (a redelivered message, or one the re-send job handed
        # over again) skips it instead of posting the message twice.
        delivery = (ChatDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("channel", "channel__team").filter(pk=delivery_id).first())
        if delivery is None or delivery.status != ChatDelivery.Status.QUEUED:
            return "done"
        channel = delivery.channel
        now = timezone.now()
        error, status_code, retry = "", None, False
        try:
            status_code = post_json(channel.webhook_url, payload_for(channel.kind, delivery))
        except ChatUnavailable as exc:
            error, retry = str(exc), not last
        except ChatRefused as exc:
            error, status_code = str(exc), exc.status
        updates: dict[str, Any] = {"attempts": delivery.attempts + 1, "last_attempt_at": now,
                                   "last_error": error[:300], "last_status_code": status_code}
        if not error:
            updates.update(status=ChatDelivery.Status.SENT, finished_at=now)
        elif not retry:
            updates.update(status=ChatDelivery.Status.FAILED, finished_at=now)
        # Only a queued row moves: a redelivered task message finds it finished and stops.
        moved = ChatDelivery.objects.filter(pk=delivery.pk, status=ChatDelivery.Status.QUEUED).update(**updates)
        if moved and updates.get("status") == ChatDelivery.Status.FAILED:
            audit_event_record(action="notifications.delivery_failed", target=delivery,
                               actor=Actor.for_task("notifications.deliver_chat_message"), details={
                                   "team": channel.team.slug, "channel": channel.name, "event": delivery.event,
                                   "target": delivery.target_repr, "attempts": updates["attempts"], "error": error})
    if retry:
        log.warning("chat delivery %s to channel %s: %s; retrying", delivery.pk, channel.pk, error)
        raise ChatUnavailable(error)
    if error:
        log.error("chat delivery %s to channel %s failed after %s attempts: %s", delivery.pk, channel.pk,
                  updates["attempts"], error)
        return "failed"
    return "sent"
