"""The completion report of a closed campaign: every item, decision, reviewer, timestamp and
revocation applied, as CSV and PDF, stored once in the archive storage with its SHA-256."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from apps.audit.services import audit_event_record
from releaseportal.csvexport import CONTENT_TYPE, csv_text
from releaseportal.templatetags.portal import viewer_time_zone

from .models import CampaignReport, ReviewCampaign, ReviewItem
from .selectors import campaign_completion

COLUMNS = ["item", "holder", "holder_kind", "privilege", "service", "owner_team", "environment", "granted_at",
           "last_used_at", "reviewer", "reassigned_from", "decision", "keep_until", "justification", "decided_by",
           "decided_at", "outcome", "applied_at", "grant_revoked_at", "revocation_reason", "grant_expires_at"]


def _iso(value) -> str:
    return value.isoformat() if value else ""


def report_rows(campaign: ReviewCampaign) -> list[dict[str, Any]]:
    items = (ReviewItem.objects.filter(campaign=campaign)
             .select_related("grant", "grant__user", "grant__service", "grant__service__owner_team",
                             "grant__environment", "reviewer", "reassigned_from", "decided_by")
             .order_by("grant__service__slug", "grant__privilege", "grant__user__username", "pk"))
    rows = []
    for item in items.iterator(chunk_size=2000):
        g = item.grant
        revoked_here = item.outcome in (ReviewItem.Outcome.REVOKED, ReviewItem.Outcome.REVOKED_BY_POLICY)
        rows.append({
            "item": item.pk, "holder": g.user.username, "holder_kind": g.user.kind, "privilege": g.privilege,
            "service": g.service.slug, "owner_team": g.service.owner_team.slug, "environment": g.environment.slug,
            "granted_at": _iso(g.granted_at), "last_used_at": _iso(g.last_used_at),
            "reviewer": item.reviewer.username,
            "reassigned_from": item.reassigned_from.username if item.reassigned_from else "",
            "decision": item.decision, "keep_until": _iso(item.keep_until), "justification": item.justification,
            "decided_by": item.decided_by.username if item.decided_by else "", "decided_at": _iso(item.decided_at),
            "outcome": item.outcome, "applied_at": _iso(item.applied_at),
            "grant_revoked_at": _iso(g.revoked_at) if revoked_here else "",
            "revocation_reason": g.revoked_reason if revoked_here else "",
            "grant_expires_at": _iso(g.expires_at),
        })
    return rows


def render_csv(rows: list[dict[str, Any]]) -> bytes:
    # Through the shared writer (releaseportal.csvexport): formula prefixes neutralised there.
    return csv_text(COLUMNS, ([row[name] for name in COLUMNS] for row in rows), lineterminator="\n").encode("utf-8")


REPORT_CONTENT_TYPES = {"csv": CONTENT_TYPE, "pdf": "application/pdf"}


def _readable(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its dates and instants as values again: the PDF is read by people, so its
    template gives them in words ("3 Dec 2026, 09:00 UTC"); the CSV keeps the ISO text."""
    out = dict(row)
    for name in ("last_used_at", "decided_at", "grant_revoked_at"):
        out[name] = datetime.fromisoformat(row[name]) if row[name] else None
    out["keep_until"] = date.fromisoformat(row["keep_until"]) if row["keep_until"] else None
    return out


def render_pdf(campaign: ReviewCampaign, rows: list[dict[str, Any]]) -> bytes:
    from weasyprint import HTML

    readable = [_readable(r) for r in rows]
    # The stored report reads in the portal's timezone, whoever's request generates it.
    with viewer_time_zone(None):
        html = render_to_string("access_reviews/report_pdf.html", {
            "campaign": campaign, "rows": readable, "completion": campaign_completion(campaign),
            "generated_at": timezone.now(), "revocations": [r for r in readable if r["grant_revoked_at"]],
        })
    return HTML(string=html).write_pdf()


def campaign_reports_store(*, campaign: ReviewCampaign, actor: Any,
                           formats: list[str] | None = None) -> list[CampaignReport]:
    """Write the CSV and PDF once (idempotent: an existing format is left as it is)."""
    if campaign.status != ReviewCampaign.Status.CLOSED:
        return []
    existing = {r.format: r for r in campaign.reports.all()}
    missing = [f for f in (formats or CampaignReport.Format.values) if f not in existing]
    if not missing:
        return list(existing.values())
    rows = report_rows(campaign)
    storage = storages["archive"]
    stored = list(existing.values())
    for fmt in missing:
        content = render_csv(rows) if fmt == "csv" else render_pdf(campaign, rows)
        digest = hashlib.sha256(content).hexdigest()
        name = storage.save(f"access-reviews/campaign-{campaign.pk}/report-{digest}.{fmt}", ContentFile(content))
        try:
            with transaction.atomic():
                report = CampaignReport.objects.create(campaign=campaign, format=fmt, path=name, sha256=digest,
                                                       size=len(content))
                audit_event_record(action="access_review.report_stored", target=campaign, actor=actor,
                                   details={"format": fmt, "sha256": digest, "size": len(content), "path": name})
        except IntegrityError:
            storage.delete(name)  # another worker stored it first; theirs stands
            report = CampaignReport.objects.get(campaign=campaign, format=fmt)
        stored.append(report)
    return stored


def report_content(report: CampaignReport) -> bytes:
    """The stored bytes, checked against the recorded digest."""
    with storages["archive"].open(report.path, "rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != report.sha256:
        raise ValueError(f"Stored report {report.path} does not match its SHA-256.")
    return content
