"""Blameless post-incident reviews and their action items: services and selectors.

A review is required for sev1/sev2 incidents (created automatically when they resolve) and
optional otherwise. It is due `INCIDENT_REVIEW_DUE_DAYS` calendar days after the incident was
resolved (or, for a review started before resolution, after it was started)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput
from releaseportal.templatetags.portal import when_text

from .models import ActionItem, Incident, IncidentUpdate, Review

REVIEW_TEXT_FIELDS = ("summary", "timeline", "contributing_factors", "what_went_well")


def review_due_date(incident: Incident, *, today: date | None = None) -> date:
    if incident.resolved_at is not None:
        base = timezone.localdate(incident.resolved_at)
    else:
        base = today or timezone.localdate()
    return base + timedelta(days=settings.INCIDENT_REVIEW_DUE_DAYS)


def review_ensure_for(*, incident: Incident, actor: Any) -> Review:
    """The incident's review, created (draft, due date set) if it has none yet."""
    existing = Review.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    return review_start(incident=incident, actor=actor)


def review_start(*, incident: Incident, actor: Any, facilitator=None) -> Review:
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if Review.objects.filter(incident=locked).exists():
            raise Conflict("This incident already has a review.", code="review_exists")
        review = Review(incident=locked, due_date=review_due_date(locked), facilitator=facilitator or locked.commander)
        history_stamp(review, resolved)
        review.save()
        IncidentUpdate.objects.create(incident=locked, kind=IncidentUpdate.Kind.REVIEW, author=resolved.user,
                                      message=f"Post-incident review started, due {when_text(review.due_date)}.")
        audit_event_record(action="incident.review_started", target=review, actor=resolved,
                           details={"incident": locked.pk, "due_date": review.due_date.isoformat(),
                                    "required": locked.review_required})
    return review


def review_save(*, review: Review, actor: Any, **fields: Any) -> Review:
    allowed = {*REVIEW_TEXT_FIELDS, "facilitator"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput("These fields cannot be changed.", fields={k: ["Not editable."] for k in unknown})
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        locked = Review.objects.select_for_update().get(pk=review.pk)
        if locked.status == Review.Status.COMPLETED:
            raise Conflict("A completed review is final.", code="review_completed")
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        for name in changed:
            setattr(locked, name, fields[name])
        history_stamp(locked, resolved)
        locked.save()
        audit_event_record(action="incident.review_edited", target=locked, actor=resolved, details={"fields": changed})
    return locked


def review_complete(*, review: Review, actor: Any) -> Review:
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        locked = Review.objects.select_for_update().get(pk=review.pk)
        if locked.status == Review.Status.COMPLETED:
            raise Conflict("The review is already completed.", code="review_completed")
        missing = {name: ["Required to complete the review."] for name in ("summary", "contributing_factors")
                   if not getattr(locked, name).strip()}
        if missing:
            raise InvalidInput("Write the summary and contributing factors first.", code="review_incomplete",
                               fields=missing)
        locked.status = Review.Status.COMPLETED
        locked.completed_at = timezone.now()
        history_stamp(locked, resolved)
        locked.save()
        IncidentUpdate.objects.create(incident_id=locked.incident_id, kind=IncidentUpdate.Kind.REVIEW,
                                      author=resolved.user, message="Post-incident review completed.")
        audit_event_record(action="incident.review_completed", target=locked, actor=resolved,
                           details={"incident": locked.incident_id})
    return locked


def action_item_add(*, review: Review, title: str, type: str, owner, due_date: date, actor: Any) -> ActionItem:
    resolved = resolve_actor(actor)
    fields: dict[str, list[str]] = {}
    if not title.strip():
        fields["title"] = ["This field may not be blank."]
    if type not in ActionItem.Type.values:
        fields["type"] = [f"One of {', '.join(ActionItem.Type.values)}."]
    if owner is None:
        fields["owner"] = ["This field is required."]
    if due_date is None:
        fields["due_date"] = ["This field is required."]
    if fields:
        raise InvalidInput("The action item is incomplete.", fields=fields)
    with atomic_as(resolved):
        item = ActionItem(review=review, title=title.strip(), type=type, owner=owner, due_date=due_date)
        history_stamp(item, resolved)
        item.save()
        audit_event_record(action="incident.action_item_added", target=item, actor=resolved,
                           details={"review": review.pk, "type": type, "owner": owner.username,
                                    "due_date": due_date.isoformat()})
    return item


def action_item_set_status(*, item: ActionItem, status: str, actor: Any) -> ActionItem:
    if status not in ActionItem.Status.values:
        raise InvalidInput("Unknown status.", fields={"status": [f"One of {', '.join(ActionItem.Status.values)}."]})
    resolved = resolve_actor(actor)
    with atomic_as(resolved):
        locked = ActionItem.objects.select_for_update().get(pk=item.pk)
        if locked.status == status:
            return locked
        before = locked.status
        locked.status = status
        locked.completed_at = timezone.now() if status == ActionItem.Status.DONE else None
        history_stamp(locked, resolved)
        locked.save()
        audit_event_record(action="incident.action_item_status", target=locked, actor=resolved,
                           details={"from": before, "to": status})
    return locked


# --- selectors -----------------------------------------------------------------------------

def reviews_list(*, status: str | None = None, overdue: bool = False, today: date | None = None) -> QuerySet[Review]:
    today = today or timezone.localdate()
    qs = Review.objects.select_related("incident", "incident__service", "incident__service__owner_team",
                                       "facilitator").order_by("due_date", "pk")
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status=Review.Status.DRAFT, due_date__lt=today)
    return qs


def action_items_list(*, status: str | None = None, overdue: bool = False, owner=None, type: str | None = None,
                      today: date | None = None) -> QuerySet[ActionItem]:
    today = today or timezone.localdate()
    qs = ActionItem.objects.select_related("review", "review__incident", "review__incident__service",
                                           "owner").order_by("due_date", "pk")
    if status:
        qs = qs.filter(status=status)
    if owner is not None:
        qs = qs.filter(owner=owner)
    if type:
        qs = qs.filter(type=type)
    if overdue:
        qs = qs.filter(status__in=ActionItem.OPEN_STATUSES, due_date__lt=today)
    return qs


def follow_up_summary(*, today: date | None = None) -> dict:
    """Overdue reviews and action items, for the monthly report and the dashboard (two queries)."""
    today = today or timezone.localdate()
    reviews = list(reviews_list(overdue=True, today=today))
    items = list(action_items_list(overdue=True, today=today))
    return {"as_of": today, "overdue_reviews": reviews, "overdue_action_items": items,
            "overdue_review_count": len(reviews), "overdue_action_item_count": len(items)}
