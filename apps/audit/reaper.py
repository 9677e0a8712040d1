"""Evidence packs whose worker died are not left "running at 26 %" forever.

Tasks are acknowledged late and rejected when their worker is lost (settings: CELERY_TASK_ACKS_LATE,
CELERY_TASK_REJECT_ON_WORKER_LOST), so a killed child process gets its message redelivered; a
node that vanished entirely only gets it back after the broker's visibility timeout (an hour).
This beat job closes that gap: a pack running longer than STUCK_WORK_TIMEOUT_MINUTES is failed
with a reason its requester sees on the pack page (and may request again), and a pack queued
that long is dispatched again (generation is safe to re-run)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import EvidencePack
from .services import audit_event_record

STUCK_REASON = ("The worker generating this pack stopped before finishing (restarted or lost). "
                "Nothing was published; request the pack again.")


def locked_stuck_rows(queryset):
    """Each row of `queryset`, locked, in its own transaction: the caller's body runs inside it.
    A row a worker holds locked right now is being worked on, not stuck: it is skipped."""
    for pk in queryset.values_list("pk", flat=True):
        with transaction.atomic():
            row = queryset.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is not None:
                yield row


def stuck_timeout() -> timedelta:
    return timedelta(minutes=settings.STUCK_WORK_TIMEOUT_MINUTES)


def evidence_packs_reap(*, actor) -> dict[str, int]:
    """Fail the packs stuck running, re-dispatch the ones stuck queued. Each failure is one
    guarded UPDATE (a pack that finished meanwhile is left alone) and one audit event."""
    from .tasks import generate_evidence_pack

    cutoff = timezone.now() - stuck_timeout()
    failed = 0
    for pack in EvidencePack.objects.filter(status=EvidencePack.Status.RUNNING, started_at__lt=cutoff):
        with transaction.atomic():
            updated = EvidencePack.objects.filter(pk=pack.pk, status=EvidencePack.Status.RUNNING,
                                                  started_at=pack.started_at).update(
                status=EvidencePack.Status.FAILED, error=STUCK_REASON, finished_at=timezone.now())
            if updated:
                failed += 1
                audit_event_record(action="evidence_pack.failed", target=pack, actor=actor,
                                   details={"error": "worker lost", "progress": pack.progress})
    queued = list(EvidencePack.objects.filter(status=EvidencePack.Status.QUEUED, requested_at__lt=cutoff)
                  .values_list("pk", flat=True))
    for pk in queued:
        transaction.on_commit(lambda pk=pk: generate_evidence_pack.delay(pk))
    return {"failed": failed, "requeued": len(queued)}
