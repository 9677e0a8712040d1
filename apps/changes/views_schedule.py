"""Schedule pages: windows and freezes (plan, edit, end early, SLA agreements), delegations, CAB meetings.
The calendar and its feed are views_calendar's."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.permissions import member_required
from releaseportal.errors import PortalError
from releaseportal.extensions import collect_groups, collect_sections
from releaseportal.input import parse_id

from . import cab as cab_services
from . import schedule_services, services, sod
from .forms import CabMeetingForm, DelegationForm
from .forms_schedule import AgreementForm, EndEarlyForm, FreezeForm, WindowForm
from .models import (
    CabAgendaItem,
    CabMeeting,
    Delegation,
    Freeze,
    MaintenanceWindow,
    WindowAgreement,
)
from .permissions import can_manage_schedule, can_run_cab
from .schedule import window_occurrence, window_occurrences


def _form_errors(form, exc: PortalError) -> None:
    for field, errors in exc.fields.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
    if not exc.fields:
        form.add_error(None, exc.message)


@member_required
def schedule(request):
    manage = can_manage_schedule(request.user)
    window_form = WindowForm(request.POST if request.POST.get("kind") == "window" else None, prefix="w")
    freeze_form = FreezeForm(request.POST if request.POST.get("kind") == "freeze" else None, prefix="f")
    status = 200
    if request.method == "POST":
        if not manage:
            raise PermissionDenied("Only release managers plan windows and freezes.")
        form = window_form if request.POST.get("kind") == "window" else freeze_form
        if form.is_valid():
            try:
                if form is window_form:
                    services.maintenance_window_create(actor=request.user, **window_form.service_kwargs())
                else:
                    services.freeze_create(actor=request.user, **form.cleaned_data)
            except PortalError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("changes:schedule")
        status = 400
    now = timezone.now()
    windows = list(MaintenanceWindow.objects.select_related("service", "environment").prefetch_related(
        Prefetch("agreements", queryset=WindowAgreement.objects.select_related("user"))).order_by("name"))
    today = timezone.localdate()
    for w in windows:
        w.overdue = w.review_overdue(today)
    return render(request, "changes/schedule.html", {
        "windows": windows,
        "freezes": Freeze.objects.filter(ends_at__gt=now - timedelta(days=30)).select_related(
            "service", "environment", "team").order_by("starts_at"),
        "manage": manage, "window_form": window_form, "freeze_form": freeze_form, "now": now,
    }, status=status)


def _window_for(request, pk: int) -> MaintenanceWindow:
    return get_object_or_404(MaintenanceWindow.objects.select_related("service", "environment"), pk=pk)


@member_required
def window_edit(request, pk: int):
    """A window's page: its SLA and who agreed; release managers edit it, end it early and record
    agreements here."""
    window = _window_for(request, pk)
    manage = can_manage_schedule(request.user)
    action = request.POST.get("action", "edit") if request.method == "POST" else ""
    form = WindowForm(request.POST if action == "edit" else None, initial=WindowForm.initial_for(window), prefix="w")
    end_form = EndEarlyForm(request.POST if action == "end" else None, prefix="e")
    agree_form = AgreementForm(request.POST if action == "agree" else None, prefix="a")
    status = 200
    if request.method == "POST":
        if not manage:
            raise PermissionDenied("Only release managers edit maintenance windows.")
        current = {"edit": form, "end": end_form, "agree": agree_form}.get(action)
        if current is None:
            return HttpResponseBadRequest("Unknown action: edit, end or agree.")
        if current.is_valid():
            try:
                if action == "edit":
                    schedule_services.maintenance_window_update(window=window, actor=request.user,
                                                                **form.service_kwargs())
                    messages.success(request, "Window saved.")
                elif action == "end":
                    schedule_services.maintenance_window_end_early(window=window, actor=request.user,
                                                                   reason=end_form.cleaned_data["reason"])
                    messages.success(request, "The window's current occurrence ended now.")
                else:
                    schedule_services.window_agreement_record(
                        window=window, actor=request.user, user=agree_form.cleaned_data.get("user"),
                        group_name=agree_form.cleaned_data.get("group_name", ""),
                        agreed_at=agree_form.cleaned_data.get("agreed_at"))
                    messages.success(request, "Agreement recorded.")
            except PortalError as exc:
                _form_errors(current, exc)
                status = exc.status
            else:
                return redirect("changes:window_edit", pk=window.pk)
        else:
            status = 400
    now = timezone.now()
    return render(request, "changes/window_edit.html", {
        "window": window, "manage": manage, "form": form, "end_form": end_form, "agree_form": agree_form,
        "agreements": window.agreements.select_related("user", "recorded_by"),
        "open_now": window_occurrence(window, now) if window.is_active else None,
        "overdue": window.review_overdue(), "upcoming": window_occurrences(window, now, now + timedelta(days=60))[:8],
    }, status=status)


@member_required
def freeze_edit(request, pk: int):
    freeze = get_object_or_404(Freeze.objects.select_related("service", "environment", "team", "created_by"), pk=pk)
    manage = can_manage_schedule(request.user)
    action = request.POST.get("action", "edit") if request.method == "POST" else ""
    form = FreezeForm(request.POST if action == "edit" else None, initial=FreezeForm.initial_for(freeze), prefix="f")
    end_form = EndEarlyForm(request.POST if action == "end" else None, prefix="e")
    status = 200
    if request.method == "POST":
        if not manage:
            raise PermissionDenied("Only release managers edit freezes.")
        current = {"edit": form, "end": end_form}.get(action)
        if current is None:
            return HttpResponseBadRequest("Unknown action: edit or end.")
        if current.is_valid():
            try:
                if action == "edit":
                    schedule_services.freeze_update(freeze=freeze, actor=request.user, **form.cleaned_data)
                    messages.success(request, "Freeze saved.")
                else:
                    schedule_services.freeze_end_early(freeze=freeze, actor=request.user,
                                                       reason=end_form.cleaned_data["reason"])
                    messages.success(request, "The freeze ended now.")
            except PortalError as exc:
                _form_errors(current, exc)
                status = exc.status
            else:
                return redirect("changes:freeze_edit", pk=freeze.pk)
        else:
            status = 400
    now = timezone.now()
    return render(request, "changes/freeze_edit.html", {
        "freeze": freeze, "manage": manage, "form": form, "end_form": end_form,
        "running": freeze.starts_at < now < freeze.ends_at}, status=status)


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
    # Items an app above changes groups (releases: the changes a release brought, under its name):
    # ungrouped items first, then each group where its first item stands.
    groups = collect_groups("cab_agenda", meeting, agenda)
    first_at: dict[str, int] = {}
    for index, item in enumerate(agenda):
        item.group = groups.get(item.change_id, "")
        first_at.setdefault(item.group, -1 if not item.group else index)
    agenda.sort(key=lambda item: first_at[item.group])
    return render(request, "changes/cab_meeting.html", {
        "meeting": meeting, "members": members, "agenda": agenda, "runner": runner,
        "present": sum(1 for m in members if m.present), "user_model": get_user_model(),
        # Sections from the apps above changes (releases: off-cadence changes on the agenda).
        "sections": collect_sections("cab_sections", request, meeting, agenda)})
