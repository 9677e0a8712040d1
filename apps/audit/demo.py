"""Demo data for the audit app, told as an auditor would meet it, all through the real services:

- the oldest full quarter of the demo's history archived (every record class, one gzip JSON
  Lines file per class and month with its SHA-256), so erin finds archived records in the
  workspace search and can export them;
- a legal hold on payments-api placed by the administrator, and a purge of that quarter's
  payments changes attempted and refused (inside retention, and under the hold) — the refusal
  is in the audit log with its reasons;
- erin's signed SOX change-management pack for the last full month, requested by her and
  generated in-process (the demo has no worker).
"""

from __future__ import annotations

import contextlib
import datetime as dt

from releaseportal.errors import Conflict

from .actor import Actor
from .models import Archive, ArchivedRecord, EvidencePack, LegalHold

HOLD_TITLE = "Payments chargeback dispute 2026-114"


def demo_quarter(now: dt.datetime) -> tuple[int, int]:
    """The quarter holding the day nine months ago: the oldest one the year of demo history fills."""
    day = (now - dt.timedelta(days=270)).date()
    return day.year, (day.month - 1) // 3 + 1


def seed(ctx) -> None:
    from .archives import archive_purge, archive_quarter
    from .evidence import evidence_pack_generate, evidence_pack_request
    from .retention import legal_hold_place

    command = Actor.for_command("seed_demo")
    year, quarter = demo_quarter(ctx.now)
    written = archive_quarter(year=year, quarter=quarter, actor=command)
    if written:
        records = ArchivedRecord.objects.filter(archive__in=written).count()
        ctx.say(f"audit: {year} Q{quarter} archived: {len(written)} archives, {records} records")

    admin = ctx.users.get("admin")
    payments = ctx.services.get("payments-api")
    if admin is not None and payments is not None and not LegalHold.objects.filter(title=HOLD_TITLE).exists():
        hold = legal_hold_place(actor=admin, title=HOLD_TITLE, service=payments,
                                reason="Counsel asked to preserve payments-api records while the dispute is open.")
        archive = Archive.objects.filter(record_class="change_request", month__in=[a.month for a in written]).first()
        # Refused, as the story needs: the refusal and its reasons are in the audit log.
        if archive is not None:
            with contextlib.suppress(Conflict):
                archive_purge(archive=archive, actor=admin, reason="Storage clean-up (demo: refused)")
        ctx.say(f"audit: legal hold #{hold.pk} on payments-api; a purge of archived changes refused")

    erin = ctx.users.get("erin")
    if erin is None or EvidencePack.objects.exists():
        return
    end = ctx.now.date().replace(day=1) - dt.timedelta(days=1)
    pack = evidence_pack_request(scope="control_period", actor=erin, data={
        "control": "sox_change_management", "period_start": end.replace(day=1).isoformat(),
        "period_end": end.isoformat()})
    # Generated here rather than waiting for a worker; the queued task finds it ready and stops.
    pack = evidence_pack_generate(pack_id=pack.pk, actor=command)
    ctx.say(f"audit: evidence pack #{pack.pk} ({pack.title}) {pack.status}, signed with key "
            f"{pack.signing_key.key_id[:12] if pack.signing_key_id else '-'}, "
            f"{pack.counts.get('exceptions', 0)} exceptions")
