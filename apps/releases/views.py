"""Release pages: the releases list (plan one), a release (waves with live progress, scope and
scope creep, exceptions and their sign-offs), the trains list and a train. Every POST goes to a
service; a refusal comes back as a message on the page."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import member_required
from apps.catalog.models import Service
from apps.changes.models import CabMeeting
from apps.changes.permissions import get_change_for_user
from releaseportal.errors import InvalidInput, PortalError
from releaseportal.input import datetime_problem, parse_id

from . import services
from .cab_reviews import can_take_release_to_cab, release_cab_add, release_cab_meetings
from .models import Release, ReleaseState, ScopeException, SignoffRole
from .permissions import can_justify_off_cadence, can_plan_release, can_request_exception
from .selectors import release_queryset, release_view, train_windows, trains_with_services
from .strategy import can_decide_strategy, strategy_decision_record

MOVES = {ReleaseState.PLANNING: ["scope_locked", "cancelled"], ReleaseState.SCOPE_LOCKED: ["in_progress", "cancelled"],
         ReleaseState.IN_PROGRESS: ["released", "cancelled"]}
MOVE_LABELS = {"scope_locked": "Lock scope", "in_progress": "Start shipping", "released": "Mark released",
               "cancelled": "Cancel release"}


def _when(value: str, field: str) -> datetime:
    label = field.replace("_", " ")
    try:
        parsed = parse_datetime(value or "")
    except ValueError:  # well formed but not a calendar date (2026-13-45): Django raises instead of None
        parsed = None
    if parsed is None:
        raise InvalidInput(f"Give {label} as a date and time.", fields={field: ["Not a date and time."]})
    aware = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    problem = datetime_problem(aware)
    if problem:
        raise InvalidInput(f"{label.capitalize()}: {problem}.", fields={field: [problem]})
    return aware


@member_required
def release_list(request):
    trains = list(trains_with_services())
    plannable = [t for t in trains if can_plan_release(request.user, t)]
    if request.method == "POST":
        train = next((t for t in plannable if t.slug == request.POST.get("train")), None)
        if train is None:
            raise PermissionDenied("Release managers and a train's owners plan its releases.")
        try:
            chosen = list(Service.objects.filter(slug__in=request.POST.getlist("services")))
            release = services.release_create(
                actor=request.user, name=request.POST.get("name", ""), train=train, services=chosen,
                planned_start=_when(request.POST.get("planned_start"), "planned_start"),
                scope_lock_at=_when(request.POST.get("scope_lock_at"), "scope_lock_at"))
        except PortalError as exc:
            # Answer on the same page with what was typed, so one bad field does not cost the whole form.
            messages.error(request, exc.message)
            return _release_list_page(request, plannable, form=request.POST, status=exc.status)
        messages.success(request, f"Release {release.name} planned.")
        return redirect("releases:detail", pk=release.pk)
    return _release_list_page(request, plannable)


def _release_list_page(request, plannable, *, form=None, status: int = 200):
    releases = list(release_queryset().order_by("-planned_start", "-pk")[:100])
    return render(request, "releases/release_list.html", {
        "releases": releases, "plannable": plannable, "form": form or {},
        "chosen": set(form.getlist("services")) if form else set()}, status=status)


def _release_for(request, pk: int) -> Release:
    release = release_queryset().filter(pk=pk).first()
    if release is None:
        raise Http404
    return release


@member_required
@require_GET
def release_detail(request, pk: int):
    release = _release_for(request, pk)
    view = release_view(release)
    user = request.user
    planner = can_plan_release(user, release.train)
    for exception in view.exceptions:
        signed = {s.role for s in exception.signoffs.all()}
        signers = {s.signer_id for s in exception.signoffs.all()}
        exception.pending = [r for r in exception.required_roles if r not in signed]
        exception.can_sign = [] if exception.state != ScopeException.State.OPEN or user.pk in signers else [
            r for r in exception.pending if services.signoff_refusal(exception, r, user) is None]
    cab_reviews, meetings, cab_nothing_waits = release_cab_meetings(
        release, with_open=can_take_release_to_cab(user) and release.state not in services.CLOSED_STATES)
    return render(request, "releases/release_detail.html", {
        "release": release, "view": view, "planner": planner, "cab_reviews": cab_reviews, "cab_meetings": meetings,
        "cab_nothing_waits": cab_nothing_waits, "moves": [(m, MOVE_LABELS[m]) for m in
                                                                       MOVES.get(release.state, [])] if planner else [],
        "can_ask": can_request_exception(user) and release.state not in services.CLOSED_STATES,
        "roles": SignoffRole})


@member_required
@require_GET
def release_progress(request, pk: int):
    """The waves with live progress (polled by the release page)."""
    release = _release_for(request, pk)
    return render(request, "releases/_waves.html", {"release": release, "view": release_view(release)})


def _change_or_message(request, ref):
    try:
        return get_change_for_user(request.user, ref)
    except Http404:
        raise InvalidInput("No such change.", fields={"change": ["Unknown change."]}) from None


@member_required
@require_POST
def release_add_change(request, pk: int):
    release = _release_for(request, pk)
    if not can_plan_release(request.user, release.train):
        raise PermissionDenied("Release managers and the train's owners change a release's scope.")
    try:
        change = _change_or_message(request, request.POST.get("change", ""))
        services.release_change_add(release=release, change=change, actor=request.user)
        messages.success(request, f"{change.number} added to the scope.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:detail", pk=pk)


@member_required
@require_POST
def release_move(request, pk: int):
    release = _release_for(request, pk)
    if not can_plan_release(request.user, release.train):
        raise PermissionDenied("Release managers and the train's owners move a release.")
    try:
        moved = services.release_transition(release=release, to_state=request.POST.get("to_state", ""),
                                            actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, f"{moved.name} is now {moved.get_state_display().lower()}.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:detail", pk=pk)


@member_required
@require_POST
def release_cab(request):
    """Add a release to a CAB meeting (from the meeting page or the release page)."""
    if not can_take_release_to_cab(request.user):
        raise PermissionDenied("Release managers and CAB members put releases on a CAB meeting's agenda.")
    release = release_queryset().filter(pk=parse_id(request.POST.get("release"))).first()
    meeting = CabMeeting.objects.filter(pk=parse_id(request.POST.get("meeting"))).first()
    if release is None or meeting is None:
        raise Http404
    try:
        review = release_cab_add(release=release, meeting=meeting, actor=request.user)
        messages.success(request, f"{release.name} is on the agenda of {meeting.title}: {', '.join(review.changes)}.")
    except PortalError as exc:
        messages.error(request, exc.message)
    if request.POST.get("back") == "meeting":
        return redirect("changes:cab_meeting", pk=meeting.pk)
    return redirect("releases:detail", pk=release.pk)


@member_required
@require_POST
def exception_request(request, pk: int):
    release = _release_for(request, pk)
    if not can_request_exception(request.user):
        raise PermissionDenied("Scope exceptions are asked for by people.")
    try:
        change = _change_or_message(request, request.POST.get("change", ""))
        services.scope_exception_request(release=release, change=change, actor=request.user,
                                         reason=request.POST.get("reason", ""))
        messages.success(request, f"Scope exception for {change.number} asked; it needs the train's sign-offs.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:detail", pk=pk)


@member_required
@require_POST
def exception_sign(request, pk: int, exception_id: int):
    release = _release_for(request, pk)
    exception = get_object_or_404(ScopeException.objects.select_related("change"), pk=exception_id, release=release)
    role = request.POST.get("role", "")
    if role not in SignoffRole.values or services.signoff_refusal(exception, role, request.user) is not None:
        raise PermissionDenied("You may not sign this exception for that role.")
    try:
        services.scope_exception_sign(exception=exception, role=role, actor=request.user,
                                      comment=request.POST.get("comment", ""))
        messages.success(request, f"Signed for {role}.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("releases:detail", pk=pk)


@member_required
@require_POST
def off_cadence_justify(request, ref: str):
    change = get_change_for_user(request.user, ref)
    if not can_justify_off_cadence(request.user, change):
        raise PermissionDenied("The change's requester, implementer or a release manager justifies it.")
    try:
        services.off_cadence_justification_record(change=change, actor=request.user,
                                                  text=request.POST.get("justification", ""))
        messages.success(request, "Off-cadence justification recorded.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("changes:detail", ref=change.number)


@member_required
@require_POST
def strategy_choose(request, ref: str):
    change = get_change_for_user(request.user, ref)
    if not can_decide_strategy(request.user, change):
        raise PermissionDenied("The change's requester, implementer or a release manager chooses its strategy.")
    try:
        decision = strategy_decision_record(change=change, actor=request.user, strategy=request.POST.get("strategy", ""),
                                            reason=request.POST.get("reason", ""))
        messages.success(request, f"Deployment strategy recorded: {decision.get_strategy_display()}.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("changes:detail", ref=change.number)


@member_required
@require_POST
def checkpoint_waive(request, ref: str, checkpoint_id: int):
    from .checkpoints import checkpoint_waive as waive
    from .checkpoints import waiver_refusal
    from .models import ComplianceCheckpoint

    change = get_change_for_user(request.user, ref)
    checkpoint = get_object_or_404(ComplianceCheckpoint.objects.select_related("scope"), pk=checkpoint_id)
    if waiver_refusal(checkpoint, change, request.user) is not None:
        raise PermissionDenied("Only the scope's waiver role, outside the change's own people, waives it.")
    try:
        waive(checkpoint=checkpoint, change=change, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, f"{checkpoint.scope.name} {checkpoint.name} waived.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("changes:detail", ref=change.number)


@member_required
@require_GET
def train_list(request):
    return render(request, "releases/train_list.html", {"trains": trains_with_services()})


@member_required
@require_GET
def train_detail(request, slug: str):
    train = trains_with_services().filter(slug=slug).first()
    if train is None:
        raise Http404
    releases = list(release_queryset().filter(train=train).order_by("-planned_start", "-pk")[:50])
    return render(request, "releases/train_detail.html", {"train": train, "releases": releases,
                                                          "windows": train_windows(train)})
