"""Celery tasks of the audit app: thin, idempotent, safe to retry."""

from __future__ import annotations

from celery import shared_task

from .actor import Actor, acting_as


@shared_task(acks_late=True)
def generate_evidence_pack(pack_id: int) -> str:
    from .evidence import evidence_pack_generate

    with acting_as(Actor.for_task("audit.generate_evidence_pack")) as actor:
        return evidence_pack_generate(pack_id=pack_id, actor=actor).status


@shared_task(acks_late=True)
def archive_closed_records() -> int:
    """Monthly: archive closed records older than the active horizon (idempotent: archived
    months are skipped)."""
    from .archives import archive_closed_records as run

    with acting_as(Actor.for_task("audit.archive_closed_records")) as actor:
        return len(run(actor=actor))


@shared_task(acks_late=True)
def anchor_chain_head() -> int | None:
    """Every quarter hour: sign the chain head into the archive storage when it moved, so
    deleting the newest events is caught (apps.audit.anchors). Returns the anchored sequence."""
    from .anchors import chain_anchor_on_schedule

    anchor = chain_anchor_on_schedule()
    return anchor.seq if anchor else None


@shared_task(acks_late=True)
def reap_stuck_evidence_packs() -> dict[str, int]:
    """Every five minutes: packs whose worker died are failed with a reason (apps.audit.reaper)."""
    from .reaper import evidence_packs_reap

    with acting_as(Actor.for_task("audit.reap_stuck_evidence_packs")) as actor:
        return evidence_packs_reap(actor=actor)


@shared_task(acks_late=True)
def verify_audit_chain(verification_id: int) -> str:
    """An auditor asked from the browser: the same verification as `manage.py audit_verify`."""
    from .chain_checks import chain_verification_run

    with acting_as(Actor.for_task("audit.verify_audit_chain")) as actor:
        return chain_verification_run(verification_id=verification_id, actor=actor).status
