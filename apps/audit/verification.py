"""Recomputing the chain. Reads in keyset-paginated chunks so memory stays flat."""

from __future__ import annotations

from dataclasses import dataclass

from .chain import event_payload, link_hash
from .models import GENESIS_HASH, AuditEvent

_FIELDS = ("seq", "created_at", "actor_id", "actor_type", "actor_label", "action", "object_type", "object_id",
           "object_repr", "request_id", "ip", "details", "prev_hash", "hash")


@dataclass
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""


def verify_chain(*, chunk_size: int = 5000, start_after: int = 0, start_hash: str = GENESIS_HASH) -> ChainReport:
    expected_seq = start_after + 1
    prev_hash = start_hash
    checked = 0
    while True:
        rows = list(AuditEvent.objects.filter(seq__gte=expected_seq).order_by("seq").values_list(*_FIELDS)[:chunk_size])
        if not rows:
            break
        for (seq, created_at, actor_id, actor_type, actor_label, action, object_type, object_id, object_repr,
             request_id, ip, details, stored_prev, stored_hash) in rows:
            if seq != expected_seq:
                return ChainReport(False, checked, expected_seq - 1, prev_hash, expected_seq,
                                   f"sequence {expected_seq} is missing (next present is {seq})")
            if stored_prev != prev_hash:
                return ChainReport(False, checked, seq - 1, prev_hash, seq,
                                   f"sequence {seq} does not point at the hash of sequence {seq - 1}")
            payload = event_payload(
                seq=seq, created_at=created_at, actor_id=actor_id, actor_type=actor_type, actor_label=actor_label,
                action=action, object_type=object_type, object_id=object_id, object_repr=object_repr,
                request_id=request_id, ip=ip, details=details,
            )
            if link_hash(prev_hash, payload) != stored_hash:
                return ChainReport(False, checked, seq - 1, prev_hash, seq, f"sequence {seq} was altered")
            prev_hash = stored_hash
            expected_seq += 1
            checked += 1
    return ChainReport(True, checked, expected_seq - 1, prev_hash)


def verify_chain_from_checkpoint(*, chunk_size: int = 5000) -> ChainReport:
    """Verify from the latest purge checkpoint (or from genesis when nothing was ever purged)."""
    from .models import ChainCheckpoint

    checkpoint = ChainCheckpoint.objects.order_by("-seq").first()
    if checkpoint is None:
        return verify_chain(chunk_size=chunk_size)
    return verify_chain(chunk_size=chunk_size, start_after=checkpoint.seq, start_hash=checkpoint.hash)
