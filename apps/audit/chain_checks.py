"""Verifying the audit chain from the browser: the same `audit_trail_verify` the `audit_verify`
command runs, asked for by an auditor and run by a worker (a long chain takes longer than a
request should), with its verdict kept so the log page shows the last one."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from releaseportal.errors import NotAllowed

from .actor import resolve_actor
from .models import ChainVerification, SigningKey
from .permissions import can_view_audit_log
from .services import audit_event_record
from .signing import current_key
from .verification import audit_trail_verify

logger = logging.getLogger(__name__)


def last_chain_verification() -> ChainVerification | None:
    """The newest verification (one query), with who asked for it."""
    return ChainVerification.objects.select_related("requested_by").order_by("-requested_at", "-id").first()


def chain_verification_request(*, actor: Any) -> ChainVerification:
    """Queue a verification; while one is queued or running, that one is the answer (a second
    click does not start a second pass over millions of events)."""
    resolved = resolve_actor(actor)
    if not can_view_audit_log(resolved.user):
        raise NotAllowed("Verifying the audit chain is for auditors.", code="not_an_auditor")
    with transaction.atomic():
        busy = (ChainVerification.objects.select_for_update()
                .filter(status__in=[ChainVerification.Status.QUEUED, ChainVerification.Status.RUNNING]).first())
        if busy is not None:
            return busy
        verification = ChainVerification.objects.create(requested_by=resolved.user, requested_at=timezone.now())
        audit_event_record(action="audit.chain_verification_requested", target=verification, actor=resolved)
        transaction.on_commit(lambda: _enqueue(verification.pk))
    return verification


def _enqueue(verification_id: int) -> None:
    from .tasks import verify_audit_chain

    verify_audit_chain.delay(verification_id)


def _key_is_development(key_id: str) -> bool:
    if not key_id:
        return False
    published = SigningKey.objects.filter(key_id=key_id).values_list("is_development", flat=True).first()
    if published is not None:
        return published
    key = current_key()
    return key.key_id == key_id and key.is_development


def chain_verification_run(*, verification_id: int, actor: Any) -> ChainVerification:
    """Run the verification and record its verdict with one audit event. Idempotent: a finished
    verification is left as it is."""
    resolved = resolve_actor(actor)
    verification = ChainVerification.objects.get(pk=verification_id)
    if not verification.is_busy:
        return verification
    ChainVerification.objects.filter(pk=verification_id).update(status=ChainVerification.Status.RUNNING,
                                                                started_at=timezone.now())
    try:
        report = audit_trail_verify()
    except Exception as exc:  # the verdict must say it could not run, never stay "running"
        logger.exception("chain verification %s failed", verification_id)
        fields: dict[str, Any] = {"status": ChainVerification.Status.FAILED, "problems": [str(exc)[:500]]}
    else:
        chain = report.chain
        problems = ([f"sequence {chain.broken_seq}: {chain.reason}"] if not chain.ok else []) + report.problems
        fields = {
            "status": ChainVerification.Status.INTACT if report.ok else ChainVerification.Status.BROKEN,
            "checked": chain.checked, "start_seq": report.start_seq, "head_seq": chain.head_seq,
            "head_hash": chain.head_hash, "broken_seq": chain.broken_seq, "anchor_seq": report.anchor_seq,
            "anchor_at": report.anchor_at, "anchor_key_id": report.anchor_key_id,
            "anchor_key_development": _key_is_development(report.anchor_key_id), "problems": problems,
        }
    with transaction.atomic():
        ChainVerification.objects.filter(pk=verification_id).update(finished_at=timezone.now(), **fields)
        verification.refresh_from_db()
        audit_event_record(action="audit.chain_verified", target=verification, actor=resolved, details={
            "status": verification.status, "checked": verification.checked, "head_seq": verification.head_seq,
            "head_hash": verification.head_hash, "anchor_seq": verification.anchor_seq,
            "anchor_key_id": verification.anchor_key_id, "problems": verification.problems[:20],
            "requested_by": verification.requested_by.get_username(),
        })
    return verification
