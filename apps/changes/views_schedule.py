"""Schedule pages: calendar and iCalendar feed, windows and freezes, delegations, CAB meetings."""

from __future__ import annotations

import calendar as pycalendar
import hashlib
from datetime import UTC, date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.permissions import member_required
from releaseportal.errors import PortalError
from releaseportal.extensions import collect_sections
from releaseportal.input import parse_id

from . import cab as cab_services
from . import services, sod
from .forms import CabMeetingForm, DelegationForm, FreezeForm, WindowForm
from .models import (
    CabAgendaItem,
    CabMeeting,
    CalendarFeed,
    ChangeRequest,
    Delegation,
    Freeze,
    MaintenanceWindow,
)
from .permissions import can_manage_schedule, can_run_cab
from .schedule import window_occurrences
from .selectors import cab_queue_for


def _month(request) -> date:
    raw = request.GET.get("month", "")
    try:
        year, month = (int(x) for x in raw.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        today = timezone.now().date()
        return today.replace(day=1)


@member_required
def calendar_month(request):
    first = _month(request)
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start = datetime.combine(weeks[0][0], time.min, tzinfo=UTC)
    end = datetime.combine(weeks[-1][-1] + timedelta(days=1), time.min, tzinfo=UTC)
    changes = ChangeRequest.objects.filter(planned_start__lt=end, planned_end__gt=start).exclude(
        state__in=["cancelled", "rejected", "draft"]).select_related("service", "environment").order_by("planned_start")
    service = request.GET.get("service") or None
    if service:
        changes = changes.filter(service__slug=service)
    freezes = list(Freeze.objects.filter(starts_at__lt=end, ends_at__gt=start).select_related("service", "environment", "team"))
    windows = list(MaintenanceWindow.objects.filter(is_active=True).select_related("service", "environment"))
    meetings = list(CabMeeting.objects.filter(starts_at__gte=start, starts_at__lt=end))
    days: dict[date, list[dict]] = {d: [] for week in weeks for d in week}
    for c in changes[:1000]:
        day = c.planned_start.date()
        if day in days:
            days[day].append({"kind": "change", "label": f"{c.number} {c.title}", "url": reverse("changes:detail", args=[c.number]),
                              "title": f"{c.service.name} · {c.environment.slug} · {c.get_state_display()}"})
    for f in freezes:
        d = max(f.starts_at.date(), weeks[0][0])
        while d <= min(f.ends_at.date(), weeks[-1][-1]):
            days[d].append({"kind": "freeze", "label": f"❄ {f.name}", "title": f"{f.reason} ({f.scope_label})"})
            d += timedelta(days=1)
    for w in windows:
        for occ_start, occ_end in window_occurrences(w, start, end):
            if occ_start.date() in days:
                days[occ_start.date()].append({"kind": "window", "label": f"{occ_start:%H:%M} {w.name}",
                                               "title": f"until {occ_end:%H:%M}"})
    for m in meetings:
        days[m.starts_at.date()].append({"kind": "cab", "label": f"{m.starts_at:%H:%M} {m.title}",
                                         "url": reverse("changes:cab_meeting", args=[m.pk]), "title": "CAB meeting"})
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return render(request, "changes/calendar.html", {
        "first": first, "weeks": [[(d, days[d]) for d in week] for week in weeks], "prev": prev_month, "next": next_month,
        "feed": CalendarFeed.objects.filter(user=request.user).first(), "service": service,
        "feed_secret": request.session.pop("calendar_feed_secret", None),
    })


@member_required
@require_POST
def calendar_feed_manage(request):
    if request.POST.get("action") == "revoke":
        services.calendar_feed_revoke(user=request.user, actor=request.user)
        messages.success(request, "Your calendar feed URL no longer works.")
    else:
        secret = services.calendar_feed_rotate(user=request.user, actor=request.user)
        request.session["calendar_feed_secret"] = secret
        messages.success(request, "A new calendar feed URL is ready; the old one stopped working.")
    return redirect("changes:calendar")


def calendar_feed(request, secret: str):
    """The iCalendar feed. No session: the secret in the URL is the credential."""
    from icalendar import Calendar, Event

    digest = hashlib.sha256(secret.encode()).hexdigest()
    feed = CalendarFeed.objects.select_related("user").filter(secret_hash=digest).first()
    if feed is None or not feed.user.is_active:
        raise Http404("Unknown calendar feed.")
    user = feed.user
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
    now = timezone.now()
    horizon_start, horizon_end = now - timedelta(days=30), now + timedelta(days=180)
    queue, _ = cab_queue_for(user)
    queue_ids = list(queue.waiting.values_list("pk", flat=True)[:500])
    changes = ChangeRequest.objects.filter(Q(requester=user) | Q(implementer=user) | Q(pk__in=queue_ids)).filter(
        planned_start__gte=horizon_start, planned_start__lt=horizon_end).select_related("service", "environment")[:500]
    cal = Calendar()
    cal.add("prodid", "-//Release Portal//changes//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Release Portal — {user.username}")
    base = request.build_absolute_uri("/").rstrip("/")
    for c in changes:
        ev = Event()
        ev.add("uid", f"change-{c.pk}@release-portal")
        ev.add("summary", f"{c.number} {c.title} ({c.get_state_display()})")
        ev.add("dtstart", c.planned_start)
        ev.add("dtend", c.planned_end or c.planned_start + timedelta(hours=1))
        ev.add("dtstamp", now)
        ev.add("description", f"{c.service.name} · {c.environment.name}\n{base}{reverse('changes:detail', args=[c.number])}")
        cal.add_component(ev)
    for f in Freeze.objects.filter(ends_at__gt=horizon_start, starts_at__lt=horizon_end):
        ev = Event()
        ev.add("uid", f"freeze-{f.pk}@release-portal")
        ev.add("summary", f"Freeze: {f.name}")
        ev.add("dtstart", f.starts_at)
        ev.add("dtend", f.ends_at)
        ev.add("dtstamp", now)
        ev.add("description", f"{f.reason} ({f.scope_label})")
        cal.add_component(ev)
    for m in CabMeeting.objects.filter(memberships__user=user, starts_at__gte=horizon_start, starts_at__lt=horizon_end):
        ev = Event()
        ev.add("uid", f"cab-{m.pk}@release-portal")
        ev.add("summary", m.title)
        ev.add("dtstart", m.starts_at)
        ev.add("dtend", m.starts_at + timedelta(minutes=m.duration_minutes))
        ev.add("dtstamp", now)
        cal.add_component(ev)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


@member_required
def schedule(request):
    manage = can_manage_schedule(request.user)
    window_form = WindowForm(request.POST if request.POST.get("kind") == "window" else None, prefix="w")
    freeze_form = FreezeForm(request.POST if request.POST.get("kind") == "freeze" else None, prefix="f")
    if request.method == "POST":
        if not manage:
            raise PermissionDenied("Only release managers plan windows and freezes.")
        form = window_form if request.POST.get("kind") == "window" else freeze_form
        if form.is_valid():
            try:
                if form is window_form:
                    services.maintenance_window_create(actor=request.user, **form.cleaned_data)
                else:
                    services.freeze_create(actor=request.user, **form.cleaned_data)
            except PortalError as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, "Saved.")
                return redirect("changes:schedule")
    now = timezone.now()
    return render(request, "changes/schedule.html", {
        "windows": MaintenanceWindow.objects.select_related("service", "environment").order_by("name"),
        "freezes": Freeze.objects.filter(ends_at__gt=now - timedelta(days=30)).select_related(
            "service", "environment", "team").order_by("starts_at"),
        "manage": manage, "window_form": window_form, "freeze_form": freeze_form,
    })


@member_required
def delegations(request):
    form = DelegationForm(request.POST or None, delegator=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.delegation_create(delegator=request.user, delegate=form.cleaned_data["delegate"],
                                       starts_at=form.cleaned_data.get("starts_at"), ends_at=form.cleaned_data["ends_at"],
                                       reason=form.cleaned_data.get("reason", ""), actor=request.user)
        except PortalError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"{form.cleaned_data['delegate'].display_name} may now decide in your place.")
            return redirect("changes:delegations")
    mine = Delegation.objects.filter(Q(delegator=request.user) | Q(delegate=request.user)).select_related(
        "delegator", "delegate").order_by("-starts_at")[:100]
    return render(request, "changes/delegations.html", {"form": form, "delegations": mine, "now": timezone.now()})


@member_required
@require_POST
def delegation_revoke(request, pk: int):
    delegation = get_object_or_404(Delegation, pk=pk, delegator=request.user, revoked_at__isnull=True)
    services.delegation_revoke(delegation=delegation, actor=request.user)
    messages.success(request, "Delegation revoked.")
    return redirect("changes:delegations")


@member_required
def cab_meetings(request):
    runner = can_run_cab(request.user)
    form = CabMeetingForm(request.POST or None)
    if request.method == "POST":
        if not runner:
            raise PermissionDenied("Only CAB members and release managers plan CAB meetings.")
        if form.is_valid():
            try:
                meeting = cab_services.cab_meeting_create(actor=request.user, **form.cleaned_data)
            except PortalError as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, f"Meeting planned with {meeting.agenda.count()} change(s) on the agenda.")
                return redirect("changes:cab_meeting", pk=meeting.pk)
    meetings = CabMeeting.objects.select_related("chair").order_by("-starts_at")[:50]
    return render(request, "changes/cab_meetings.html", {"meetings": meetings, "form": form, "runner": runner,
                                                         "needing": cab_services.changes_needing_cab().count()})


@member_required
def cab_meeting(request, pk: int):
    meeting = get_object_or_404(CabMeeting.objects.select_related("chair"), pk=pk)
    runner = can_run_cab(request.user)
    if request.method == "POST":
        if not runner:
            raise PermissionDenied("Only CAB members and release managers run CAB meetings.")
        action = request.POST.get("action")
        try:
            if action == "attendance":
                ids = {pk for x in request.POST.getlist("present") if (pk := parse_id(x)) is not None}
                count = cab_services.cab_attendance_set(meeting=meeting, present_user_ids=ids, actor=request.user)
                messages.success(request, f"{count} present (quorum {meeting.quorum}).")
            elif action == "minutes":
                cab_services.cab_minutes_record(meeting=meeting, minutes=request.POST.get("minutes", ""), actor=request.user)
                messages.success(request, "Minutes saved.")
            elif action == "refresh":
                added = cab_services.cab_agenda_refresh(meeting=meeting, actor=request.user)
                messages.success(request, f"{added} change(s) added to the agenda.")
            elif action == "decide":
                item = get_object_or_404(CabAgendaItem, pk=request.POST.get("item"), meeting=meeting)
                cab_services.cab_item_decide(item=item, decision=request.POST.get("decision", ""),
                                             notes=request.POST.get("notes", ""), actor=request.user)
                messages.success(request, f"{item.change.number}: {item.get_decision_display().lower()}.")
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("changes:cab_meeting", pk=meeting.pk)
    members = list(meeting.memberships.select_related("user").order_by("user__username"))
    agenda = list(meeting.agenda.select_related("change", "change__service", "change__environment", "decided_by"))
    # Who may not record the board's decision on an item (segregation of duties) sees why, not a button.
    refused = sod.approval_conflicts(user=request.user, changes=[i.change for i in agenda if not i.decision])
    for item in agenda:
        conflict = refused.get(item.change_id)
        item.sod_refusal = conflict.message if conflict else ""
    return render(request, "changes/cab_meeting.html", {
        "meeting": meeting, "members": members, "agenda": agenda, "runner": runner,
        "present": sum(1 for m in members if m.present), "user_model": get_user_model(),
        # Sections from the apps above changes (releases: off-cadence changes on the agenda).
        "sections": collect_sections("cab_sections", request, meeting, agenda)})
