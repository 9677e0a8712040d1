"""Home panels from change management, each shown to the roles whose work it is (the home page
is per role: issue #16):

- approver, CAB member, release manager: what waits for my decision;
- CAB member: today's CAB meeting;
- release manager, CAB member: open emergency overrides;
- release manager: overdue post-mortems, the next seven days and the active freezes;
- requester: my changes.

Each panel costs a fixed, small number of queries, and a panel that is not the viewer's costs
none."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.accounts.roles import APPROVER, CAB_MEMBER, RELEASE_MANAGER, REQUESTER

from .models import CabMeeting, ChangeRequest, ChangeState, Freeze, MaintenanceWindow
from .schedule import window_occurrences
from .selectors import cab_queue_for, open_emergency_overrides, overdue_post_mortems

UPCOMING_DAYS = 7
# States in which a change still matters to the person who asked for it.
OPEN_STATES = [ChangeState.DRAFT, ChangeState.IN_REVIEW, ChangeState.APPROVED, ChangeState.SCHEDULED,
               ChangeState.IMPLEMENTING]


def panels(request) -> list[dict]:
    user = request.user
    now = timezone.now()
    result: list[dict] = []
    if user.has_role(APPROVER, CAB_MEMBER, RELEASE_MANAGER):
        qs, counts = cab_queue_for(user)
        result.append({"title": "Waiting for my decision", "template": "changes/panels/queue.html", "order": 10,
                       "data": {"counts": counts, "changes": list(qs[:5])}})
    if user.has_role(CAB_MEMBER):
        result.append({"title": "Today's CAB meeting", "template": "changes/panels/cab_today.html", "order": 11,
                       "data": _cab_today(now)})
    if user.has_role(RELEASE_MANAGER, CAB_MEMBER):
        result.append({"title": "Open emergency overrides", "template": "changes/panels/overrides.html", "order": 12,
                       "data": {"overrides": list(open_emergency_overrides()[:5]), "now": now}})
    if user.has_role(REQUESTER):
        result.append({"title": "My changes", "id": "my-changes", "template": "changes/panels/mine.html", "order": 5,
                       "data": _my_changes(user)})
    if user.has_role(RELEASE_MANAGER):
        result.append({"title": f"The next {UPCOMING_DAYS} days", "template": "changes/panels/upcoming.html",
                       "order": 13, "data": _upcoming(now)})
        result.append({"title": "Active freezes", "template": "changes/panels/freezes.html", "order": 14,
                       "data": {"freezes": list(Freeze.objects.filter(starts_at__lte=now, ends_at__gt=now)
                                               .select_related("service", "environment", "team")
                                               .order_by("ends_at")[:6])}})
        overdue = list(overdue_post_mortems()[:5])
        if overdue:
            result.append({"title": "Overdue post-mortems", "template": "changes/panels/post_mortems.html",
                           "order": 16, "data": {"changes": overdue}})
    return result


def _cab_today(now: datetime) -> dict:
    today = timezone.localdate(now)
    meetings = list(CabMeeting.objects.filter(starts_at__date=today).exclude(status=CabMeeting.Status.CANCELLED)
                    .select_related("chair").order_by("starts_at")[:3])
    upcoming = None if meetings else (CabMeeting.objects.filter(starts_at__gt=now, status=CabMeeting.Status.PLANNED)
                                      .order_by("starts_at").first())
    return {"meetings": meetings, "next": upcoming}


def _my_changes(user) -> dict:
    mine = (ChangeRequest.objects.filter(Q(requester=user) | Q(implementer=user), state__in=OPEN_STATES)
            .select_related("service").order_by("-updated_at"))
    changes = list(mine[:6])
    return {"changes": changes[:5], "more": len(changes) > 5}


def _upcoming(now: datetime) -> dict:
    until = now + timedelta(days=UPCOMING_DAYS)
    changes = list(ChangeRequest.objects.filter(planned_start__gte=now, planned_start__lt=until,
                                                state__in=[ChangeState.APPROVED, ChangeState.SCHEDULED])
                   .select_related("service", "environment").order_by("planned_start")[:6])
    meetings = list(CabMeeting.objects.filter(starts_at__gte=now, starts_at__lt=until,
                                              status=CabMeeting.Status.PLANNED).order_by("starts_at")[:3])
    windows = []
    for window in MaintenanceWindow.objects.filter(is_active=True).select_related("service", "environment"):
        windows.extend((start, end, window) for start, end in window_occurrences(window, now, until)[:1])
    windows.sort(key=lambda w: w[0])
    return {"changes": changes[:5], "more_changes": len(changes) > 5, "meetings": meetings,
            "windows": [{"start": s, "end": e, "window": w} for s, e, w in windows[:4]]}
