"""CAB meetings: members and quorum, an agenda of the changes that need CAB, minutes, and a
decision per agenda item recorded as the CAB stage's approval ("decided in CAB 2026-12-03")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from . import sod, workflow
from .models import Approval, CabAgendaItem, CabMeeting, CabMember, ChangeRequest, ChangeState, OpenStage


def changes_needing_cab(before: datetime | None = None):
    """Changes whose CAB stage is open or still to come, submitted before `before`."""
    cab_decided = Approval.objects.filter(change=OuterRef("pk"), stage__is_cab=True, voided_at__isnull=True)
    qs = ChangeRequest.objects.filter(cab_required=True).filter(
        state__in=[ChangeState.IN_REVIEW, ChangeState.IMPLEMENTING, ChangeState.COMPLETED]).exclude(Exists(cab_decided))
    qs = qs.filter(state=ChangeState.IN_REVIEW) | qs.filter(Exists(OpenStage.objects.filter(change=OuterRef("pk"))))
    if before is not None:
        qs = qs.filter(submitted_at__lt=before)
    return qs.distinct().order_by("planned_start", "pk")


def cab_meeting_create(*, actor: Any, title: str, starts_at: datetime, quorum: int, members: list,
                       duration_minutes: int = 60) -> CabMeeting:
    resolved = resolve_actor(actor)
    if quorum < 1:
        raise InvalidInput("The quorum is at least one member.", fields={"quorum": ["At least 1."]})
    if len(members) < quorum:
        raise InvalidInput(f"{len(members)} member(s) cannot reach a quorum of {quorum}.",
                           fields={"members": [f"Invite at least {quorum}."]})
    with transaction.atomic():
        meeting = CabMeeting(title=title, starts_at=starts_at, quorum=quorum, chair=resolved.user,
                             duration_minutes=duration_minutes)
        meeting._history_user = resolved.user
        meeting.save()
        CabMember.objects.bulk_create([CabMember(meeting=meeting, user=m) for m in members])
        added = cab_agenda_refresh(meeting=meeting, actor=resolved)
        audit_event_record(action="change.cab.meeting_created", target=meeting, actor=resolved,
                           details={"members": [m.username for m in members], "quorum": quorum, "agenda": added})
    return meeting


def cab_agenda_refresh(*, meeting: CabMeeting, actor: Any) -> int:
    """Add every change that needs CAB and is not on the agenda yet."""
    present = set(meeting.agenda.values_list("change_id", flat=True))
    position = meeting.agenda.count()
    items = []
    for change in changes_needing_cab(before=meeting.starts_at).exclude(pk__in=present):
        position += 1
        items.append(CabAgendaItem(meeting=meeting, change=change, position=position))
    CabAgendaItem.objects.bulk_create(items)
    return len(items)


def cab_meeting_closed_reason(meeting: CabMeeting, at: datetime | None = None) -> str:
    """Why nothing more can join the agenda of `meeting` ("" when it still can): it was held or
    cancelled, or its time is over."""
    at = at or timezone.now()
    if meeting.status != CabMeeting.Status.PLANNED:
        return f"The meeting is {meeting.get_status_display().lower()}."
    if meeting.starts_at + timedelta(minutes=meeting.duration_minutes) <= at:
        return f"The meeting of {meeting.starts_at:%Y-%m-%d %H:%M} is over."
    return ""


def cab_agenda_add(*, meeting: CabMeeting, changes: list[ChangeRequest], actor: Any) -> list[CabAgendaItem]:
    """Put these changes (the caller chose them: e.g. a release's changes awaiting CAB) at the end
    of the agenda, skipping those already on it. 409 `meeting_closed` once the meeting was held,
    cancelled or is over. The caller's transaction writes the audit event of what it did."""
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = CabMeeting.objects.select_for_update().get(pk=meeting.pk)
        closed = cab_meeting_closed_reason(locked)
        if closed:
            raise Conflict(f"{closed} Its agenda is closed.", code="meeting_closed", fields={"meeting": [closed]})
        present = set(locked.agenda.values_list("change_id", flat=True))
        position = max(locked.agenda.values_list("position", flat=True), default=0)
        items = []
        for change in changes:
            if change.pk in present:
                continue
            present.add(change.pk)
            position += 1
            item = CabAgendaItem(meeting=locked, change=change, position=position)
            item._history_user = resolved.user
            item.save()
            items.append(item)
    return items


def cab_attendance_set(*, meeting: CabMeeting, present_user_ids: set[int], actor: Any) -> int:
    resolved = resolve_actor(actor)
    _require_cab_runner(meeting, resolved.user)
    with transaction.atomic():
        for member in meeting.memberships.all():
            member.present = member.user_id in present_user_ids
            member.save(update_fields=["present"])
        count = meeting.memberships.filter(present=True).count()
        audit_event_record(action="change.cab.attendance", target=meeting, actor=resolved,
                           details={"present": count, "quorum": meeting.quorum})
    return count


def cab_minutes_record(*, meeting: CabMeeting, minutes: str, actor: Any) -> CabMeeting:
    resolved = resolve_actor(actor)
    _require_cab_runner(meeting, resolved.user)
    with transaction.atomic():
        meeting.minutes = minutes
        if meeting.status == CabMeeting.Status.PLANNED and meeting.starts_at <= timezone.now():
            meeting.status = CabMeeting.Status.HELD
        meeting._history_user = resolved.user
        meeting.save()
        audit_event_record(action="change.cab.minutes", target=meeting, actor=resolved, details={"length": len(minutes)})
    return meeting


def _require_cab_runner(meeting: CabMeeting, user) -> None:
    is_member = meeting.memberships.filter(user=user).exists()
    if not (user.pk == meeting.chair_id or is_member or user.has_role("release_manager")):
        raise NotAllowed("Only the chair, the members or a release manager run this meeting.", code="not_cab_member")


def cab_item_decide(*, item: CabAgendaItem, decision: str, notes: str, actor: Any) -> CabAgendaItem:
    """The board decides an agenda item; approve/reject is recorded as the CAB stage's approval."""
    from .services import approval_record

    resolved = resolve_actor(actor)
    meeting = item.meeting
    _require_cab_runner(meeting, resolved.user)
    if decision not in ("approve", "reject", "defer"):
        raise InvalidInput("decision must be approve, reject or defer.", fields={"decision": ["Invalid."]})
    present = meeting.memberships.filter(present=True).count()
    if decision != "defer" and present < meeting.quorum:
        raise Conflict(f"The meeting has no quorum: {present} present, {meeting.quorum} needed.", code="no_quorum")
    if item.decision:
        raise Conflict("This agenda item is already decided.", code="already_decided")
    with transaction.atomic():
        if decision != "defer":
            change = ChangeRequest.objects.select_related("change_type", "service", "environment").get(pk=item.change_id)
            result = workflow.evaluate(change)
            cab_stage = next((s for s in result.stages if s.stage.is_cab), None)
            if cab_stage is None:
                raise Conflict("This change has no CAB stage.", code="not_an_approver")
            if cab_stage.status != workflow.STAGE_OPEN:
                raise Conflict(f"The CAB stage is {cab_stage.status}, not open.", code="stage_not_open")
            # Whoever records the board's decision is its approver: the same segregation of duties.
            sod.approval_require_separate_duties(change=change, user=resolved.user)
            comment = f"Decided in CAB {meeting.starts_at:%Y-%m-%d}" + (f": {notes}" if notes else "")
            approval_record(change=change, approver=resolved.user, decision=decision, comment=comment,
                            cab_meeting=meeting, stage_result=cab_stage)
        item.decision = decision
        item.notes = notes
        item.decided_at = timezone.now()
        item.decided_by = resolved.user
        item._history_user = resolved.user
        item.save()
        audit_event_record(action="change.cab.item_decided", target=meeting, actor=resolved,
                           details={"change": item.change.number, "decision": decision, "present": present})
    return item
