"""Change control pages. Thin: permissions decide who, services do the work, PortalError
messages go back to the form or the page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.models import Team
from apps.accounts.permissions import member_required
from apps.catalog.models import Service
from apps.change_types.models import RISK_LEVELS, ChangeType
from releaseportal.errors import PortalError
from releaseportal.extensions import collect_sections
from releaseportal.templatetags.portal import person_name

from . import services, workflow
from .forms import ChangeForm, DecisionForm
from .history_text import change_history
from .information import information_request_answer, information_request_ask
from .models import ChangeState
from .permissions import (
    can_authorise_override,
    can_create_change,
    can_edit,
    can_record_post_mortem,
    edit_scope,
    get_change_for_user,
    may_submit,
    visible_changes,
)
from .schedule import change_conflicts
from .selectors import (
    DEFAULT_QUEUE_SORT,
    MINE_TABS,
    QUEUE_SORTS,
    blocked_for,
    cab_queue_for,
    changes_list,
    is_standard_change,
)


def _filter_choices() -> dict:
    return {"states": ChangeState.choices, "services": Service.objects.order_by("name").only("slug", "name"),
            "teams": Team.objects.order_by("name").only("slug", "name"),
            "change_types": ChangeType.objects.order_by("name").only("slug", "name"), "risks": RISK_LEVELS}


def _change_list(request, *, mine: str | None):
    qs = changes_list(state=request.GET.get("state") or None, service=request.GET.get("service") or None,
                      team=request.GET.get("team") or None, change_type=request.GET.get("change_type") or None,
                      search=(request.GET.get("q") or "").strip() or None, mine=mine, user=request.user)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "changes/change_list.html", {"page_obj": page, "filters": request.GET, "mine": mine,
                                                        "mine_tabs": MINE_TABS,
                                                        "can_create": can_create_change(request.user),
                                                        **_filter_choices()})


@member_required
def change_list(request):
    mine = request.GET.get("mine") or None
    return _change_list(request, mine=mine if mine in MINE_TABS else None)


@member_required
def my_changes(request):
    """The list on its "My changes" tabs (requested by me, I implement, awaiting my approval)."""
    mine = request.GET.get("mine") or "all"
    return _change_list(request, mine=mine if mine in MINE_TABS else "all")


@member_required
def queue(request):
    filters = {"service": request.GET.get("service") or None, "team": request.GET.get("team") or None,
               "change_type": request.GET.get("change_type") or None, "risk": request.GET.get("risk") or None}
    sort = request.GET.get("sort") if request.GET.get("sort") in QUEUE_SORTS else DEFAULT_QUEUE_SORT
    qs, counts = cab_queue_for(request.user, delegated_only=request.GET.get("delegated") == "1", sort=sort, **filters)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    # What names the person but cannot be decided now, and why (instead of a button that errors).
    blocked = blocked_for(request.user, scope=qs.scope, **filters)
    return render(request, "changes/queue.html", {"page_obj": page, "counts": counts, "blocked": blocked,
                                                  "filters": request.GET, "sort": sort, "sorts": QUEUE_SORTS,
                                                  **_filter_choices()})


@member_required
@require_POST
def queue_bulk_approve(request):
    """Approve the ticked standard changes of the queue, one by one through approval_record (each
    in its own transaction, with every guard): what was approved and what was refused, per change."""
    numbers = [n.strip().upper() for n in request.POST.getlist("change") if n.strip()][:BULK_LIMIT]
    if not numbers:
        return _bulk_response(request, [], error="Tick at least one standard change to approve.", status=400)
    results = []
    visible = {c.number: c for c in visible_changes(request.user).filter(number__in=numbers)}
    for number in dict.fromkeys(numbers):
        change = visible.get(number)
        if change is None:
            results.append({"number": number, "ok": False, "error": "No such change."})
            continue
        if not is_standard_change(change):
            results.append({"number": number, "change": change, "ok": False,
                            "error": "Not a standard change (low risk, no CAB, not an emergency): open it to decide."})
            continue
        try:
            approval = services.approval_record(change=change, approver=request.user, decision="approve",
                                                comment=request.POST.get("comment", "")[:4000])
        except PortalError as exc:
            results.append({"number": number, "change": change, "ok": False, "error": exc.message, "code": exc.code})
        else:
            results.append({"number": number, "change": approval.change, "ok": True})
    return _bulk_response(request, results)


def _bulk_response(request, results: list[dict], *, error: str = "", status: int = 200):
    if not request.headers.get("HX-Request"):
        for row in results:
            (messages.success if row["ok"] else messages.error)(
                request, f"{row['number']}: " + ("approved." if row["ok"] else row["error"]))
        if error:
            messages.error(request, error)
        return redirect("changes:queue")
    _, counts = cab_queue_for(request.user)
    return render(request, "changes/partials/queue_bulk_result.html",
                  {"results": results, "error": error, "counts": counts,
                   "approved": sum(1 for r in results if r["ok"])}, status=status)


# At most this many changes in one bulk approval (a page of the queue).
BULK_LIMIT = 50


def _apply_errors(form, exc: PortalError) -> None:
    placed = False
    for field, errors in exc.fields.items():
        name = field if field in form.fields else None
        if name is None and f"risk_{field}" in form.fields:
            name = f"risk_{field}"
        for error in errors:
            form.add_error(name, error)
            placed = placed or name is not None
    if not placed:
        form.add_error(None, exc.message)


@member_required
def change_create(request):
    if not can_create_change(request.user):
        raise PermissionDenied("You may not file change requests.")
    form = ChangeForm(request.POST or None, initial={"rollout_strategy": "rolling"})
    if request.method == "POST" and form.is_valid():
        try:
            change = services.change_create(actor=request.user, **form.service_kwargs())
        except PortalError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{change.number} created as a draft. Submit it when the plan is ready.")
            return redirect("changes:detail", ref=change.number)
    return render(request, "changes/change_form.html", {"form": form, "editing": False})


@member_required
def change_edit(request, ref: str):
    change = get_change_for_user(request.user, ref)
    if not can_edit(request.user, change):
        raise PermissionDenied("You may not edit this change.")
    allowed = edit_scope(request.user, change) & services.editable_in_state(change)
    if not allowed:
        return _render_detail(request, change, refusal=PortalError(
            f"A change in state '{change.state}' can no longer be edited.", code="not_editable", status=409))
    form = ChangeForm(request.POST or None, initial=ChangeForm.initial_for(change), editing=True, editable=allowed,
                      change=change)
    if request.method == "POST" and form.is_valid():
        fields = {name: value for name, value in form.service_kwargs().items() if name in allowed}
        try:
            change = services.change_update(change=change, actor=request.user, **fields)
        except PortalError as exc:
            _apply_errors(form, exc)
        else:
            if change.review_reason and change.state == ChangeState.IN_REVIEW:
                messages.warning(request, change.review_reason)
            else:
                messages.success(request, "Change saved.")
            return redirect("changes:detail", ref=change.number)
    return render(request, "changes/change_form.html", {"form": form, "editing": True, "change": change})


def _approval_context(request, change) -> dict:
    approvals = list(change.approvals.select_related("approver", "on_behalf_of", "cab_meeting").order_by("decided_at"))
    live = [a for a in approvals if a.voided_at is None]
    result = workflow.evaluate(change, live)
    refusal = approve_refusal = None
    accepts = workflow.accepts_decisions(change)
    if accepts:
        # The same check the decision itself makes (services.decision_refusals): a button is offered
        # only where the decision would be accepted, and a refused approval says why instead.
        refusals, _ = services.decision_refusals(change=change, user=request.user)
        refusal = refusals["reject"].message if refusals["reject"] else None
        approve_refusal = refusals["approve"].message if refusals["approve"] and refusal is None else ""
    change.accepts_decisions = accepts  # the stage labels read it (change_tags.stage_label)
    questions = list(change.information_requests.select_related("asked_by", "answered_by"))
    open_question = next((q for q in questions if q.answered_at is None), None)
    return {"change": change, "result": result, "voided": [a for a in approvals if a.voided_at],
            "can_approve": accepts and refusal is None, "approve_frozen": approve_refusal or "",
            "refusal": refusal, "decision_form": DecisionForm(), "questions": questions,
            "open_question": open_question, "can_ask": accepts and refusal is None and open_question is None,
            "can_answer": open_question is not None and may_submit(request.user, change)}


def _render_detail(request, change, *, refusal: PortalError | None = None):
    """The change page; after a refused POST, with the refusal (its message and code) and its status."""
    targets = services.change_moves_for(change=change, user=request.user)
    context = {
        **_approval_context(request, change),
        "conflicts": change_conflicts(change),
        # The same test the edit page applies: what this person may edit that the state still allows
        # (a release manager edits the schedule, which a started emergency change no longer offers).
        "can_edit": bool(edit_scope(request.user, change) & services.editable_in_state(change)),
        "can_submit": may_submit(request.user, change) and change.state == ChangeState.DRAFT,
        "can_record_post_mortem": can_record_post_mortem(request.user, change),
        "targets": [(s, ChangeState(s).label) for s in targets],
        "can_override": can_authorise_override(request.user, change),
        "overrides": list(change.emergency_overrides.select_related("authorised_by")),
        "history": change_history(change),
        "sections": collect_sections("change_sections", request, change),
        "action_refusal": refusal,
        "max_override_hours": services.MAX_OVERRIDE_HOURS,
    }
    return render(request, "changes/change_detail.html", context, status=refusal.status if refusal else 200)


@member_required
def change_detail(request, ref: str):
    return _render_detail(request, get_change_for_user(request.user, ref))


@member_required
@require_POST
def change_submit(request, ref: str):
    change = get_change_for_user(request.user, ref)
    if not may_submit(request.user, change):
        raise PermissionDenied("You may not submit this change.")
    try:
        change = services.change_submit(change=change, actor=request.user)
    except PortalError as exc:
        return _render_detail(request, get_change_for_user(request.user, change.pk), refusal=exc)
    messages.success(request, f"{change.number} is now {change.get_state_display().lower()}.")
    return redirect("changes:detail", ref=change.number)


@member_required
@require_POST
def change_move(request, ref: str):
    """A Lifecycle panel button: services.change_move decides who may make which move."""
    change = get_change_for_user(request.user, ref)
    try:
        change = services.change_move(change=change, to_state=request.POST.get("to_state", ""), actor=request.user,
                                      reason=request.POST.get("reason", "")[:300])
    except PortalError as exc:
        return _render_detail(request, get_change_for_user(request.user, change.pk), refusal=exc)
    messages.success(request, f"{change.number} is now {change.get_state_display().lower()}.")
    return redirect("changes:detail", ref=change.number)


@member_required
@require_POST
def change_decide(request, ref: str):
    """Approve or reject. From the detail page (htmx) the approval panel is swapped in place; from
    the queue the row is replaced. A forged POST gets the service's refusal and its status."""
    change = get_change_for_user(request.user, ref)
    form = DecisionForm(request.POST)
    error, status = None, 200
    if not form.is_valid():
        error, status = "Choose approve or reject.", 400
    else:
        try:
            services.approval_record(change=change, approver=request.user, decision=form.cleaned_data["decision"],
                                     comment=form.cleaned_data["comment"])
        except PortalError as exc:
            error, status = exc.message, exc.status
    change = get_change_for_user(request.user, change.pk)
    if not request.headers.get("HX-Request"):
        if error:
            return HttpResponse(error, status=status, content_type="text/plain; charset=utf-8")
        messages.success(request, "Your decision is recorded.")
        return redirect("changes:detail", ref=change.number)
    if request.POST.get("from") == "queue":
        # The row says what happened; the counters above the table follow (hx-swap-oob).
        _, counts = cab_queue_for(request.user)
        return render(request, "changes/partials/queue_row_done.html",
                      {"change": change, "error": error, "decision": form.cleaned_data.get("decision"),
                       "counts": counts}, status=status)
    context = _approval_context(request, change)
    context["error"] = error
    context["oob_state"] = True
    return render(request, "changes/partials/approval_panel.html", context, status=status)


@member_required
@require_POST
def change_ask(request, ref: str):
    """Request more information: the question goes to the requester, the change waits for the answer."""
    change = get_change_for_user(request.user, ref)
    try:
        information_request_ask(change=change, actor=request.user, question=request.POST.get("question", ""))
    except PortalError as exc:
        return _render_detail(request, get_change_for_user(request.user, change.pk), refusal=exc)
    messages.success(request, f"Your question is sent to {person_name(change.requester)}; {change.number} waits for "
                              "the answer and returns to the queue then.")
    return redirect(reverse("changes:detail", args=[change.number]) + "#questions")


@member_required
@require_POST
def change_answer(request, ref: str):
    change = get_change_for_user(request.user, ref)
    try:
        information_request_answer(change=change, actor=request.user, answer=request.POST.get("answer", ""))
    except PortalError as exc:
        return _render_detail(request, get_change_for_user(request.user, change.pk), refusal=exc)
    messages.success(request, "Your answer is recorded; the change is back in the approvers' queue.")
    return redirect(reverse("changes:detail", args=[change.number]) + "#questions")


@member_required
@require_POST
def change_override(request, ref: str):
    change = get_change_for_user(request.user, ref)
    try:
        services.emergency_override_grant(change=change, actor=request.user, reason=request.POST.get("reason", ""),
                                          hours=request.POST.get("hours"))
    except PortalError as exc:
        return _render_detail(request, get_change_for_user(request.user, change.pk), refusal=exc)
    messages.success(request, "Emergency override granted: the change may be implemented now.")
    return redirect("changes:detail", ref=change.number)


@member_required
@require_POST
def change_post_mortem(request, ref: str):
    change = get_change_for_user(request.user, ref)
    if not can_record_post_mortem(request.user, change):
        raise PermissionDenied("You may not record this change's post-mortem.")
    try:
        services.post_mortem_record(change=change, actor=request.user, text=request.POST.get("post_mortem", ""))
    except PortalError as exc:
        return _render_detail(request, get_change_for_user(request.user, change.pk), refusal=exc)
    messages.success(request, "Post-mortem recorded.")
    return redirect(reverse("changes:detail", args=[change.number]) + "#emergency")
