"""Incident pages. Thin: forms validate the input, services do the work, permissions decide."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Team
from apps.accounts.permissions import member_required
from apps.catalog.models import Service
from apps.delivery.models import Deployment
from releaseportal.errors import PortalError
from releaseportal.input import parse_id

from . import reviews as review_services
from . import runbooks as runbook_services
from . import services
from .forms import (
    ActionItemForm,
    AttachmentForm,
    IncidentEditForm,
    IncidentForm,
    LinkOverrideForm,
    ReviewForm,
    RollbackForm,
    RunbookCreateForm,
    RunbookStepForm,
    RunbookTestForm,
    UpdateForm,
)
from .linking import annotate_links
from .models import (
    ActionItem,
    Incident,
    IncidentAttachment,
    IncidentClassification,
    Review,
    Runbook,
    RunbookTest,
)
from .permissions import (
    can_create_any,
    can_manage_runbook,
    can_update,
    can_write_for_service,
    get_incident_for_user,
)
from .selectors import deployments_by_id, incidents_list, recurring_patterns
from .state_machine import next_statuses


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _incident_for(request, pk: int) -> Incident:
    return get_incident_for_user(request.user, pk, queryset=Incident.objects.select_related(
        "service", "service__owner_team"))


def _require_update(request, incident: Incident) -> None:
    if not can_update(request.user, incident):
        raise PermissionDenied("Only the service's team, requesters and release managers update this incident.")


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _form_errors(form) -> str:
    return "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())


def _submit(request, form, action, *, success=None, invalid: str | None = None) -> bool:
    """Validate `form`, run `action(cleaned_data)` and flash the outcome; True when it was done.
    `success` is a message, or a function of the action's result giving one."""
    if not form.is_valid():
        messages.error(request, invalid or _form_errors(form))
        return False
    try:
        result = action(form.cleaned_data)
    except PortalError as exc:
        messages.error(request, exc.message)
        return False
    if success:
        messages.success(request, success(result) if callable(success) else success)
    return True


# --- incidents -----------------------------------------------------------------------------

@member_required
@require_GET
def incident_list(request):
    f = request.GET
    qs = incidents_list(service=f.get("service") or None, team=f.get("team") or None,
                        severity=f.get("severity") or None, status=f.get("status") or None,
                        classification=f.get("classification") or None, search=f.get("q") or None)
    page = Paginator(qs, 50).get_page(f.get("page"))
    deployments = deployments_by_id(i.linked_deployment_id for i in page.object_list)
    rows = [(i, deployments.get(i.linked_deployment_id)) for i in page.object_list]
    return render(request, "incidents/incident_list.html", {
        "page_obj": page, "rows": rows, "filters": f, "teams": Team.objects.order_by("name"),
        "services": Service.objects.order_by("name").only("slug", "name"),
        "classifications": IncidentClassification.objects.order_by("name"),
        "severities": Incident.Severity.choices, "statuses": Incident.Status.choices,
        "can_create": can_create_any(request.user),
    })


@member_required
def incident_create(request):
    if not can_create_any(request.user):
        raise PermissionDenied("You cannot open incidents.")
    initial = {"started_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "service": request.GET.get("service")}
    form = IncidentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not can_write_for_service(request.user, data["service"]):
            form.add_error("service", "You may only open incidents for your team's services.")
        else:
            try:
                incident = services.incident_open(actor=request.user, **data)
            except PortalError as exc:
                form.add_error(None, exc.message)
                for field, errs in exc.fields.items():
                    if field in form.fields:
                        form.add_error(field, errs)
            else:
                messages.success(request, f"{incident.reference} opened; stakeholders are being notified.")
                return redirect("incidents:detail", pk=incident.pk)
    return render(request, "incidents/incident_form.html", {"form": form})


def _detail_context(request, incident: Incident) -> dict:
    linked_id = incident.linked_deployment_id
    linked = Deployment.objects.select_related("environment").filter(pk=linked_id).first() if linked_id else None
    updates = list(incident.updates.select_related("author"))
    attachments = list(incident.attachments.select_related("uploaded_by"))
    rollbacks = list(incident.rollbacks.select_related("deployment", "failed_deployment", "recorded_by"))
    review = Review.objects.filter(incident=incident).first()
    editable = can_update(request.user, incident)
    recorded = {r.deployment_id for r in rollbacks}
    rollback_candidates = []
    recent_deployments = []
    if editable and incident.status != Incident.Status.CLOSED:
        recent = list(Deployment.objects.filter(service_id=incident.service_id, environment__is_production=True)
                      .select_related("environment").order_by("-started_at")[:30])
        rollback_candidates = [d for d in recent if d.kind == Deployment.Kind.ROLLBACK and d.pk not in recorded]
        recent_deployments = recent
    return {
        "incident": incident, "linked": linked, "link_kind": incident.link_kind, "updates": updates,
        "attachments": attachments, "rollbacks": rollbacks, "review": review, "can_update": editable,
        "next_statuses": [(s, Incident.Status(s).label) for s in next_statuses(incident.status)],
        "update_form": UpdateForm(), "attachment_form": AttachmentForm(),
        "edit_form": IncidentEditForm(auto_id="edit-%s", initial={
            "title": incident.title, "severity": incident.severity,
            "classification": incident.classification.slug if incident.classification_id else None,
            "commander": incident.commander.username if incident.commander_id else None}), "rollback_candidates": rollback_candidates,
        "recent_deployments": recent_deployments, "max_bytes": request_max_bytes(),
        "runbook": Runbook.objects.filter(service_id=incident.service_id).first(),
    }


def request_max_bytes() -> int:
    from django.conf import settings

    return settings.EVIDENCE_MAX_BYTES


@member_required
@require_GET
def incident_detail(request, pk: int):
    qs = annotate_links(Incident.objects.select_related(
        "service", "service__owner_team", "classification", "commander", "created_by", "link_overridden_by"))
    incident = get_incident_for_user(request.user, pk, queryset=qs)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


@member_required
@require_POST
def incident_post_update(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)
    form = UpdateForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.incident_post_update(incident=incident, actor=request.user, message=form.cleaned_data["message"],
                                          to_status=form.cleaned_data["status"] or None)
        except PortalError as exc:
            error = exc.message
    else:
        error = _form_errors(form)
    if _is_htmx(request):
        incident.refresh_from_db()
        updates = incident.updates.select_related("author")
        return render(request, "incidents/_timeline_block.html", {
            "incident": incident, "updates": updates, "error": error, "can_update": True,
            "next_statuses": [(s, Incident.Status(s).label) for s in next_statuses(incident.status)],
            "update_form": UpdateForm() if error is None else form, "oob_status": True,
        })
    if error:
        messages.error(request, error)
    return redirect("incidents:detail", pk=pk)


@member_required
@require_POST
def incident_edit(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)
    _submit(request, IncidentEditForm(request.POST),
            lambda data: services.incident_edit(incident=incident, actor=request.user, **data),
            success="Incident details saved.")
    return redirect("incidents:detail", pk=pk)


@member_required
@require_POST
def incident_link(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)

    def override(data):
        target = data["target"].strip()
        deployment = None
        if target not in ("none", "inferred"):
            pk = parse_id(target)
            deployment = Deployment.objects.filter(pk=pk).first() if pk is not None else None
            if deployment is None:
                raise PortalError("Unknown deployment.")
        return services.incident_link_override(incident=incident, actor=request.user, reason=data["reason"],
                                               deployment=deployment, suppress=target == "none")

    _submit(request, LinkOverrideForm(request.POST), override, invalid="Choose the link and give a reason.",
            success="Deployment link overridden.")
    return redirect("incidents:detail", pk=pk)


@member_required
@require_POST
def incident_attach(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)
    _submit(request, AttachmentForm(request.POST, request.FILES),
            lambda data: services.attachment_add(incident=incident, actor=request.user, kind=data["kind"],
                                                 upload=data["file"], text=data["text"],
                                                 description=data["description"]),
            success=lambda attachment: f"Attached {attachment.filename} (sha256 {attachment.sha256[:12]}…).")
    return HttpResponseRedirect(reverse("incidents:detail", args=[pk]) + "#evidence")


@member_required
@require_GET
def attachment_download(request, pk: int, attachment_id: int):
    incident = _incident_for(request, pk)
    attachment = get_object_or_404(IncidentAttachment, pk=attachment_id, incident=incident)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The stored file is missing.") from exc
    response = FileResponse(handle, as_attachment=True, filename=attachment.filename,
                            content_type="application/octet-stream")
    response["X-Content-SHA256"] = attachment.sha256
    return response


@member_required
@require_POST
def incident_rollback(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)

    def record(data):
        deployment = Deployment.objects.filter(pk=data["deployment"]).select_related("rollback_of").first()
        if deployment is None:
            raise PortalError("Unknown deployment.")
        return services.rollback_record(incident=incident, deployment=deployment, actor=request.user, note=data["note"])

    _submit(request, RollbackForm(request.POST), record, invalid="Choose the rollback deployment.",
            success="Rollback recorded; stakeholders are being notified.")
    return redirect("incidents:detail", pk=pk)


# --- reviews -------------------------------------------------------------------------------

@member_required
@require_POST
def review_start(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)
    try:
        review_services.review_start(incident=incident, actor=request.user, facilitator=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("incidents:detail", pk=pk)
    messages.success(request, "Post-incident review started.")
    return redirect("incidents:review", pk=pk)


@member_required
def review_detail(request, pk: int):
    incident = _incident_for(request, pk)
    review = get_object_or_404(Review.objects.select_related("facilitator"), incident=incident)
    editable = can_update(request.user, incident) and review.status == Review.Status.DRAFT
    form = ReviewForm(request.POST or None, initial={f: getattr(review, f) for f in review_services.REVIEW_TEXT_FIELDS})
    if request.method == "POST":
        if not editable:
            raise PermissionDenied("This review cannot be edited.")
        if form.is_valid():
            try:
                review = review_services.review_save(review=review, actor=request.user, **form.cleaned_data)
                if "complete" in request.POST:
                    review_services.review_complete(review=review, actor=request.user)
                    messages.success(request, "Review completed.")
                else:
                    messages.success(request, "Review saved.")
                return redirect("incidents:review", pk=pk)
            except PortalError as exc:
                form.add_error(None, exc.message)
    items = list(review.action_items.select_related("owner"))
    return render(request, "incidents/review_detail.html", {
        "incident": incident, "review": review, "form": form, "editable": editable,
        "can_update": can_update(request.user, incident), "items": items,
        "item_form": ActionItemForm(), "item_statuses": ActionItem.Status.choices, "today": timezone.localdate(),
    })


@member_required
@require_POST
def action_item_add(request, pk: int):
    incident = _incident_for(request, pk)
    _require_update(request, incident)
    review = get_object_or_404(Review, incident=incident)
    _submit(request, ActionItemForm(request.POST),
            lambda data: review_services.action_item_add(review=review, actor=request.user, **data),
            success="Action item added.")
    return HttpResponseRedirect(reverse("incidents:review", args=[pk]) + "#action-items")


@member_required
@require_POST
def action_item_status(request, item_id: int):
    item = get_object_or_404(ActionItem.objects.select_related("review__incident__service"), pk=item_id)
    incident = item.review.incident
    if not (can_update(request.user, incident) or item.owner_id == request.user.pk):
        raise PermissionDenied("Only the owner or the service's team update this action item.")
    try:
        review_services.action_item_set_status(item=item, status=request.POST.get("status", ""), actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect(_safe_next(request, reverse("incidents:review", args=[incident.pk])))


@member_required
@require_GET
def review_list(request):
    status = request.GET.get("status") or None
    overdue = request.GET.get("overdue") == "1"
    page = Paginator(review_services.reviews_list(status=status, overdue=overdue), 50).get_page(request.GET.get("page"))
    return render(request, "incidents/review_list.html", {
        "page_obj": page, "filters": request.GET, "statuses": Review.Status.choices, "today": timezone.localdate()})


@member_required
@require_GET
def action_item_list(request):
    f = request.GET
    mine = f.get("mine") == "1"
    qs = review_services.action_items_list(status=f.get("status") or None, overdue=f.get("overdue") == "1",
                                           owner=request.user if mine else None, type=f.get("type") or None)
    page = Paginator(qs, 50).get_page(f.get("page"))
    return render(request, "incidents/action_item_list.html", {
        "page_obj": page, "filters": f, "statuses": ActionItem.Status.choices, "types": ActionItem.Type.choices,
        "today": timezone.localdate()})


# --- patterns ------------------------------------------------------------------------------

@member_required
@require_GET
def patterns(request):
    team = request.GET.get("team") or None
    release_only = request.GET.get("release") == "1"
    data = recurring_patterns(team=team, release_related_only=release_only)
    return render(request, "incidents/patterns.html", {
        "data": data, "teams": Team.objects.order_by("name"), "filters": request.GET})


# --- runbooks ------------------------------------------------------------------------------

@member_required
@require_GET
def runbook_list(request):
    overdue = request.GET.get("overdue") == "1"
    runbooks = list(runbook_services.runbooks_list(overdue=overdue, team=request.GET.get("team") or None))
    today = timezone.localdate()
    cutoff = runbook_services.overdue_cutoff(today)
    rows = [(r, r.last_tested_at is None or r.last_tested_at < cutoff) for r in runbooks]
    without = Service.objects.filter(is_active=True, rollback_runbook__isnull=True).select_related("owner_team")
    return render(request, "incidents/runbook_list.html", {
        "rows": rows, "cutoff": cutoff, "filters": request.GET, "teams": Team.objects.order_by("name"),
        "without": without})


@member_required
def runbook_detail(request, slug: str):
    service = get_object_or_404(Service.objects.select_related("owner_team"), slug=slug)
    runbook = Runbook.objects.filter(service=service).select_related("owner").first()
    if runbook is None:
        may_create = can_write_for_service(request.user, service)
        form = RunbookCreateForm(request.POST or None, initial={"owner": request.user.username})
        if request.method == "POST":
            if not may_create:
                raise PermissionDenied("Only the service's team creates its runbook.")
            if form.is_valid():
                try:
                    runbook_services.runbook_create(service=service, actor=request.user, **form.cleaned_data)
                    return redirect("incidents:runbook", slug=slug)
                except PortalError as exc:
                    form.add_error(None, exc.message)
        return render(request, "incidents/runbook_missing.html", {"service": service, "form": form,
                                                                  "may_create": may_create})
    if request.method == "POST":
        raise PermissionDenied("Use the step and test forms.")
    tests = list(runbook.tests.select_related("tested_by", "environment")[:20])
    return render(request, "incidents/runbook_detail.html", {
        "service": service, "runbook": runbook, "steps": list(runbook.steps.all()), "tests": tests,
        "overdue": runbook_services.is_overdue(runbook), "cutoff": runbook_services.overdue_cutoff(),
        "may_manage": can_manage_runbook(request.user, runbook), "step_form": RunbookStepForm(),
        "test_form": RunbookTestForm(initial={"outcome": RunbookTest.Outcome.PASSED}),
    })


def _runbook_for_manage(request, slug: str) -> Runbook:
    runbook = get_object_or_404(Runbook.objects.select_related("service"), service__slug=slug)
    if not can_manage_runbook(request.user, runbook):
        raise PermissionDenied("Only the runbook's owner and the service's team change it.")
    return runbook


@member_required
@require_POST
def runbook_step_add(request, slug: str):
    runbook = _runbook_for_manage(request, slug)
    _submit(request, RunbookStepForm(request.POST),
            lambda data: runbook_services.runbook_step_add(runbook=runbook, actor=request.user, **data))
    return redirect("incidents:runbook", slug=slug)


@member_required
@require_POST
def runbook_test_add(request, slug: str):
    runbook = _runbook_for_manage(request, slug)
    _submit(request, RunbookTestForm(request.POST),
            lambda data: runbook_services.runbook_test_record(runbook=runbook, actor=request.user, **data),
            success="Test recorded.")
    return redirect("incidents:runbook", slug=slug)


# --- subscriptions -------------------------------------------------------------------------

@member_required
@require_POST
def subscription_toggle(request, slug: str):
    service = get_object_or_404(Service, slug=slug)
    subscribed = request.POST.get("subscribe") == "1"
    services.subscription_set(service=service, user=request.user, subscribed=subscribed, actor=request.user)
    messages.success(request, f"{'Subscribed to' if subscribed else 'Unsubscribed from'} incident emails for {service.name}.")
    return redirect(_safe_next(request, reverse("catalog:service", args=[slug])))
