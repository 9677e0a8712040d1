"""A whole release taken to a CAB meeting: exactly the release's changes that await CAB approval
join the meeting's agenda (apps.changes.cab.cab_agenda_add), grouped there under the release's
name; who did it is recorded (ReleaseCabReview, history + one audit event)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Exists, F, FilteredRelation, Q, Value
from django.utils import timezone

from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from apps.changes.cab import cab_agenda_add, cab_meeting_closed_reason, changes_needing_cab
from apps.changes.models import CabMeeting
from apps.changes.permissions import can_run_cab
from releaseportal.errors import Conflict, NotAllowed

from .models import Release, ReleaseCabReview, ReleaseChange
from .services import CLOSED_STATES


def can_take_release_to_cab(user) -> bool:
    """Who runs CAB meetings (release managers, CAB members), in person."""
    return bool(user is not None and not user.is_service_account and can_run_cab(user))


def changes_awaiting_cab(release: Release, meeting: CabMeeting):
    """The release's changes whose CAB approval is open or to come, as the meeting's own agenda
    refresh would pick them (submitted before the meeting starts)."""
    in_release = ReleaseChange.objects.filter(release=release).values("change_id")
    return changes_needing_cab(before=meeting.starts_at).filter(pk__in=in_release)


def release_cab_add(*, release: Release, meeting: CabMeeting, actor: Any) -> ReleaseCabReview:
    """Put the release's changes awaiting CAB on the meeting's agenda. 409 `meeting_closed` (held,
    cancelled or over), `release_closed`, `nothing_awaits_cab` when none of its changes waits for
    CAB, `already_on_agenda` when the release was taken to this meeting and nothing new waits.
    Taking the release again later adds the changes that started waiting since."""
    with atomic_as(actor) as resolved:
        if not can_take_release_to_cab(resolved.user):
            raise NotAllowed("Release managers and CAB members put releases on a CAB meeting's agenda.")
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.state in CLOSED_STATES:
            raise Conflict(f"{locked.name} is {locked.state}: nothing of it goes to CAB any more.",
                           code="release_closed", fields={"release": [locked.state]})
        closed = cab_meeting_closed_reason(meeting)
        if closed:
            raise Conflict(f"{closed} Its agenda is closed.", code="meeting_closed", fields={"meeting": [closed]})
        waiting = list(changes_awaiting_cab(locked, meeting))
        if not waiting:
            raise Conflict(f"None of the changes of {locked.name} awaits CAB approval.", code="nothing_awaits_cab",
                           fields={"release": ["No change of the release awaits CAB approval."]})
        added = cab_agenda_add(meeting=meeting, changes=waiting, actor=resolved)
        numbers = [item.change.number for item in added]
        review = ReleaseCabReview.objects.select_for_update().filter(release=locked, meeting=meeting).first()
        if review is None:
            # Those already on the agenda (a refresh put them there) are grouped under the release too.
            review = ReleaseCabReview.objects.create(release=locked, meeting=meeting, added_by=resolved.user,
                                                     changes=[c.number for c in waiting])
        elif not added:
            raise Conflict(f"{locked.name} is on this meeting's agenda with every change of it awaiting CAB.",
                           code="already_on_agenda", fields={"meeting": ["The release is on its agenda already."]})
        else:
            history_stamp(review, resolved)
            review.changes = list(dict.fromkeys([*review.changes, *numbers]))
            review.save(update_fields=["changes"])
        audit_event_record(action="release.cab_review_added", target=locked, actor=resolved, details={
            "meeting": meeting.pk, "meeting_starts_at": meeting.starts_at.isoformat(), "changes": numbers,
            "already_on_agenda": sorted(c.number for c in waiting if c.number not in numbers)})
    return review


def agenda_groups(meeting: CabMeeting, change_ids: list[int]) -> dict[int, str]:
    """change id -> the name of the release it came with, for the agenda items of releases taken
    to this meeting (one query)."""
    if not change_ids:
        return {}
    return dict(ReleaseChange.objects.filter(release__cab_reviews__meeting=meeting, change_id__in=change_ids)
                .values_list("change_id", "release__name"))


def release_cab_meetings(release: Release, *, with_open: bool) -> tuple[list[CabMeeting], list[CabMeeting], bool]:
    """For the release page, in one query: the meetings the release was taken to (each with
    `review_changes`, `review_by`, `review_at`), and — `with_open` — the planned meetings whose
    agenda is still open, but only when a change of the release awaits CAB (offering them
    otherwise only earned a refusal); the third value says there were open meetings but nothing
    of the release awaits CAB."""
    wanted = Q(review__pk__isnull=False)
    if with_open:
        wanted |= Q(status=CabMeeting.Status.PLANNED, starts_at__gte=timezone.now() - timedelta(days=1))
    rows = list(CabMeeting.objects.annotate(review=FilteredRelation(
        "release_reviews", condition=Q(release_reviews__release=release))).filter(wanted).annotate(
        review_changes=F("review__changes"), review_by=F("review__added_by__username"),
        review_at=F("review__added_at"),
        release_awaits_cab=Exists(changes_needing_cab().filter(release_links__release=release))
        if with_open else Value(False)).order_by("starts_at", "pk")[:50])
    reviews = [m for m in rows if m.review_at is not None]
    open_ones = [m for m in rows if with_open and not cab_meeting_closed_reason(m)]
    if open_ones and not open_ones[0].release_awaits_cab:
        return reviews, [], True
    return reviews, open_ones, False
