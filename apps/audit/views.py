from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import render

from .models import AuditEvent
from .permissions import can_view_audit_log
from .selectors import audit_events_filtered
from .services import audit_event_record

PAGE_SIZE = 50


def _require_auditor(request) -> None:
    if not can_view_audit_log(request.user):
        raise PermissionDenied("The audit log is for auditors and administrators.")


@login_required
def audit_log(request):
    _require_auditor(request)
    qs, filters = audit_events_filtered(request.GET)
    # Counting a log of millions of rows is slow and adds nothing: pages link newer/older only.
    page = _uncounted_page(qs, request.GET.get("page"))
    return render(request, "audit/log.html", {
        "page_obj": page, "filters": filters, "querystring": urlencode(filters),
        "querystring_without_page": urlencode(filters) + ("&" if filters else ""),
        "object_types": AuditEvent.objects.order_by().values_list("object_type", flat=True).distinct()[:100],
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
    number = int(raw_number) if raw_number and str(raw_number).isdigit() and int(raw_number) > 0 else 1
    start = (number - 1) * PAGE_SIZE
    rows = list(qs[start:start + PAGE_SIZE + 1])
    return _Page(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)


class _Echo:
    def write(self, value):
        return value


@login_required
def audit_log_csv(request):
    _require_auditor(request)
    qs, filters = audit_events_filtered(request.GET)
    audit_event_record(action="audit_log.exported", actor=request.user, details={"filters": filters})
    writer = csv.writer(_Echo())
    header = ["seq", "created_at", "actor_label", "actor_type", "action", "object_type", "object_id",
              "object_repr", "request_id", "ip", "details", "prev_hash", "hash"]

    def rows():
        yield writer.writerow(header)
        for event in qs.iterator(chunk_size=2000):
            yield writer.writerow([
                event.seq, event.created_at.isoformat(), event.actor_label, event.actor_type, event.action,
                event.object_type, event.object_id, event.object_repr, event.request_id, event.ip,
                event.details, event.prev_hash, event.hash,
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
