"""Demo data for the audit app: a legal hold, and erin's SOX change-management pack for the
last full month (generated in-process; the demo has no worker)."""

from __future__ import annotations

import datetime as dt

from .actor import Actor, acting_as
from .models import EvidencePack, LegalHold


def seed(ctx) -> None:
    if EvidencePack.objects.exists() or LegalHold.objects.exists():
        return
    from django.utils import timezone

    from .evidence import evidence_pack_generate
    from .packs.scope import normalise_parameters, title_for

    admin = ctx.users.get("admin")
    payments = ctx.services.get("payments-api")
    if admin is not None and payments is not None:
        LegalHold.objects.create(
            title="Payments chargeback dispute 2026-114", reason="Counsel asked to preserve payments-api change "
            "records while the dispute is open.", service=payments, placed_by=admin, placed_at=ctx.now)
    erin = ctx.users.get("erin")
    if erin is None:
        return
    first_of_month = ctx.now.date().replace(day=1)
    end = first_of_month - dt.timedelta(days=1)
    params = normalise_parameters("control_period", {"control": "sox_change_management",
                                                     "period_start": end.replace(day=1).isoformat(),
                                                     "period_end": end.isoformat()})
    pack = EvidencePack.objects.create(scope=params["scope"], parameters=params, title=title_for(params),
                                       requested_by=erin, requested_at=timezone.now())
    with acting_as(Actor.for_command("seed_demo")) as actor:
        pack = evidence_pack_generate(pack_id=pack.pk, actor=actor)
    ctx.say(f"audit: legal hold on payments-api; evidence pack #{pack.pk} ({pack.title}) {pack.status}, "
            f"{pack.counts.get('exceptions', 0)} exceptions")
