from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.permissions import member_required
from releaseportal.csvexport import csv_response
from releaseportal.dbrouter import replica_reads
from releaseportal.errors import PortalError
from releaseportal.input import parse_id
from releaseportal.isoformat import IsoFormatUTC

from .chain_checks import chain_verification_request, last_chain_verification
from .models import AuditEvent
from .permissions import can_view_audit_log
from .presentation import present_events
from .selectors import audit_events_filtered
from .services import audit_event_record

PAGE_SIZE = 50


def _require_auditor(request) -> None:
    if not can_view_audit_log(request.user):
        raise PermissionDenied("The audit log is for auditors and administrators.")


@login_required
def audit_log(request):
    _require_auditor(request)
    # The search only shows the trail: the read replica may serve it (releaseportal/dbrouter.py).
    with replica_reads():
        qs, filters = audit_events_filtered(request.GET)
        # Counting a log of millions of rows is slow and adds nothing: pages link newer/older only.
        page = _uncounted_page(qs.select_related("actor"), request.GET.get("page"))
        present_events(page)
        return render(request, "audit/log.html", {
            "page_obj": page, "filters": filters, "querystring": urlencode(filters),
            "querystring_without_page": urlencode(filters) + ("&" if filters else ""),
            "object_types": list(AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()[:100]),
            "verification": last_chain_verification(),
        })


class _Page(list):
    """A page without a total count: newer/older links only."""

    def __init__(self, rows, number, has_next):
        super().__init__(rows)
        self.number = number
        self._has_next = has_next

    def has_next(self):
        return self._has_next

    def has_previous(self):
        return self.number > 1

    def has_other_pages(self):
        return self.has_next() or self.has_previous()

    def next_page_number(self):
        return self.number + 1

    def previous_page_number(self):
        return self.number - 1

    paginator = None


def _uncounted_page(qs, raw_number):
    number = min(parse_id(raw_number) or 1, 10**9)
    start = (number - 1) * PAGE_SIZE
    rows = list(qs[start:start + PAGE_SIZE + 1])
    return _Page(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)


CSV_HEADER = ["seq", "created_at", "actor_label", "actor_type", "action", "object_type", "object_id",
              "object_repr", "request_id", "ip", "details", "prev_hash", "hash"]


@login_required
def audit_log_csv(request):
    """Streamed: one query, read in chunks, written in batches of rows (releaseportal.csvexport)."""
    _require_auditor(request)
    qs, filters = audit_events_filtered(request.GET)
    audit_event_record(action="audit_log.exported", actor=request.user, details={"filters": filters})
    # The details column holds the canonical text that was hashed, verbatim (CanonicalJSONField):
    # read as text it is already what canonical_details() would write, without parsing and
    # re-serialising every row (a third of the export's time on the demo's 11,000 events).
    # The time is written by the database as created_at.isoformat() would write it (reading each
    # timestamp into Python to format it again cost as much as the rest of the query).
    fields = ("seq", "created_at_text", "actor_label", "actor_type", "action", "object_type", "object_id",
              "object_repr", "request_id", "ip", "details_text", "prev_hash", "hash")
    qs = qs.annotate(details_text=Cast("details", output_field=TextField()),
                     created_at_text=IsoFormatUTC("created_at"))
    # In CSV_HEADER's order: the tuples are written as they come.
    return csv_response("audit-log.csv", CSV_HEADER, qs.values_list(*fields).iterator(chunk_size=2000))


def _verification_context(request) -> dict:
    return {"verification": last_chain_verification()}


@login_required
def chain_verification_status(request):
    """The last verification alone, polled by htmx while one is queued or running."""
    _require_auditor(request)
    return render(request, "audit/_chain_status.html", _verification_context(request))


@login_required
@require_POST
def chain_verify(request):
    _require_auditor(request)
    try:
        verification = chain_verification_request(actor=request.user)
    except PortalError as exc:
        raise PermissionDenied(exc.message) from exc
    if request.headers.get("HX-Request"):
        return render(request, "audit/_chain_status.html", {"verification": verification})
    messages.info(request, "Verifying the audit chain: the result shows here when the worker is done.")
    return redirect("audit:log")


# --- Auditor workspace: search, evidence packs, keys; retention and holds for admins --------


from .evidence import evidence_pack_open, evidence_pack_request  # noqa: E402
from .forms import LegalHoldForm, PackRequestForm, ReleaseHoldForm, RetentionPolicyForm  # noqa: E402
from .models import EvidencePack, LegalHold, RetentionPolicy, SigningKey  # noqa: E402
from .permissions import (  # noqa: E402
    can_manage_retention,
    can_use_evidence_packs,
    can_view_retention,
    evidence_packs_for,
    get_pack_for_user,
)
from .retention import legal_hold_place, legal_hold_release, retention_policy_update  # noqa: E402
from .selectors import recent_archives, workspace_search  # noqa: E402

PACKS_SHOWN = 20


def _require_packs(request) -> None:
    if not can_use_evidence_packs(request.user):
        raise PermissionDenied("The auditor workspace is for auditors.")


def _packs_context(request) -> dict:
    packs = list(evidence_packs_for(request.user).order_by("-requested_at", "-id")[:PACKS_SHOWN])
    busy = any(p.status in (EvidencePack.Status.QUEUED, EvidencePack.Status.RUNNING) for p in packs)
    return {"packs": packs, "packs_busy": busy}


@member_required
def workspace(request):
    _require_packs(request)
    form = PackRequestForm(scope=request.GET.get("scope"))
    return render(request, "audit/workspace.html", {
        "results": workspace_search(request.GET.get("q", "")), "form": form, **_packs_context(request),
        "archives": recent_archives(),
    })


@member_required
@require_POST
def pack_request(request):
    _require_packs(request)
    form = PackRequestForm(request.POST)
    if form.is_valid():
        try:
            pack = evidence_pack_request(scope=form.cleaned_data["scope"], data=form.pack_data(), actor=request.user)
        except PortalError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            messages.info(request, f"Evidence pack #{pack.pk} requested: {pack.title}.")
            return redirect("audit:workspace")
    return render(request, "audit/workspace.html", {
        "results": workspace_search(""), "form": form, **_packs_context(request), "archives": recent_archives(),
    }, status=400)


@member_required
def pack_form_fragment(request):
    """The request form for the chosen scope alone: htmx swaps it in when the scope changes."""
    _require_packs(request)
    return render(request, "audit/_pack_form.html", {"form": PackRequestForm(scope=request.GET.get("scope"))})


@member_required
def pack_list_fragment(request):
    """The pack table alone, polled by htmx while a pack is queued or running."""
    _require_packs(request)
    return render(request, "audit/_pack_table.html", _packs_context(request))


@member_required
def pack_download(request, pk: int):
    if not can_use_evidence_packs(request.user):
        raise Http404("No such evidence pack.")
    pack = get_pack_for_user(request.user, pk)
    try:
        handle = evidence_pack_open(pack=pack, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("audit:workspace")
    return FileResponse(handle, as_attachment=True, filename=f"evidence-pack-{pack.pk}.zip",
                        content_type="application/zip")


@member_required
def signing_keys(request):
    if not can_view_retention(request.user):
        raise PermissionDenied("The signing keys page is for auditors and administrators.")
    return render(request, "audit/keys.html", {"keys": SigningKey.objects.order_by("-first_used_at")})


@member_required
@require_http_methods(["GET", "POST"])
def retention_policies(request):
    if not can_view_retention(request.user):
        raise PermissionDenied("Retention policies are for auditors and administrators.")
    can_manage = can_manage_retention(request.user)
    form = None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only administrators change retention policies.")
        policy = get_object_or_404(RetentionPolicy, pk=request.POST.get("policy"))
        form = RetentionPolicyForm(request.POST, instance=RetentionPolicy.objects.get(pk=policy.pk))
        if form.is_valid():
            retention_policy_update(policy=policy, actor=request.user, **form.cleaned_data)
            messages.info(request, f"Retention policy updated: {policy.get_record_class_display()}.")
            return redirect("audit:retention")
    from .record_classes import SPECS

    policies = list(RetentionPolicy.objects.order_by("record_class", "compliance_scope"))
    for policy in policies:
        # From the code that refuses the purge, so the page cannot say otherwise.
        policy.never_purged = SPECS[policy.record_class].never_purged if policy.record_class in SPECS else ""
    return render(request, "audit/retention.html", {
        "policies": policies,
        "can_manage": can_manage, "form": form, "counted_from": RetentionPolicy.CountedFrom.choices,
    }, status=400 if form is not None else 200)


@member_required
@require_http_methods(["GET", "POST"])
def legal_holds(request):
    if not can_view_retention(request.user):
        raise PermissionDenied("Legal holds are for auditors and administrators.")
    can_manage = can_manage_retention(request.user)
    form = LegalHoldForm()
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only administrators place legal holds.")
        form = LegalHoldForm(request.POST)
        if form.is_valid():
            try:
                hold = legal_hold_place(actor=request.user, records=form.records(), **{
                    k: v for k, v in form.cleaned_data.items() if k != "single_records"})
            except PortalError as exc:
                form.add_error(None, exc.message)
            else:
                messages.info(request, f"Legal hold placed: {hold.title}.")
                return redirect("audit:holds")
    holds = LegalHold.objects.select_related("service", "team", "placed_by", "released_by").order_by(
        "released_at", "-placed_at")
    return render(request, "audit/holds.html", {"holds": holds, "form": form, "can_manage": can_manage,
                                                "release_form": ReleaseHoldForm()},
                  status=400 if form.is_bound else 200)


@member_required
@require_POST
def legal_hold_release_view(request, pk: int):
    if not can_manage_retention(request.user):
        raise PermissionDenied("Only administrators release legal holds.")
    hold = get_object_or_404(LegalHold, pk=pk)
    form = ReleaseHoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the hold is released.")
        return redirect("audit:holds")
    try:
        legal_hold_release(hold=hold, actor=request.user, reason=form.cleaned_data["release_reason"])
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Legal hold released: {hold.title}.")
    return redirect("audit:holds")


@member_required
def archived_record_export_view(request, pk: int):
    """One archived record with its history, read back from its archive (hash checked); audited."""
    from django.http import JsonResponse

    from .archives import archived_record_export
    from .models import ArchivedRecord
    from .services import audit_event_record as record_event

    if not can_use_evidence_packs(request.user):
        raise Http404("No such archived record.")
    item = get_object_or_404(ArchivedRecord.objects.select_related("archive"), pk=pk)
    try:
        line = archived_record_export(item)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("audit:workspace")
    record_event(action="archive.record_exported", target=item.archive, actor=request.user,
                 details={"record_class": item.record_class, "reference": item.reference})
    response = JsonResponse(line, json_dumps_params={"indent": 2, "sort_keys": True})
    response["Content-Disposition"] = f'attachment; filename="{item.record_class}-{item.object_id}.json"'
    return response


@member_required
def archive_download(request, pk: int):
    """One archive file, streamed from the archive storage; audited before a byte leaves. For
    auditors only (404 for anyone else: they must not learn what is archived)."""
    from .archives import archive_file_open
    from .models import Archive

    if not can_use_evidence_packs(request.user):
        raise Http404("No such archive.")
    archive = get_object_or_404(Archive, pk=pk)
    try:
        handle = archive_file_open(archive=archive, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("audit:workspace")
    return FileResponse(handle, as_attachment=True, filename=archive.path.rsplit("/", 1)[-1],
                        content_type="application/gzip")
