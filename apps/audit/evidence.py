"""Evidence packs: requested by auditors, generated in Celery, downloaded (and audited)."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from typing import Any

from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from releaseportal.dbrouter import replica_reads
from releaseportal.errors import Conflict, NotAllowed

from .actor import resolve_actor
from .anchors import chain_anchor_write
from .models import EvidencePack
from .packs.builder import PackBuilder, portal_chain_head
from .packs.scope import normalise_parameters, title_for
from .permissions import can_use_evidence_packs
from .services import audit_event_record
from .signing import publish_current_key

logger = logging.getLogger(__name__)


def archive_storage():
    return storages["archive"]


def evidence_pack_request(*, scope: str, data: dict[str, Any], actor) -> EvidencePack:
    resolved = resolve_actor(actor)
    if not can_use_evidence_packs(resolved.user):
        raise NotAllowed("Evidence packs are for auditors.", code="not_an_auditor")
    params = normalise_parameters(scope, data)
    with transaction.atomic():
        pack = EvidencePack.objects.create(scope=scope, parameters=params, title=title_for(params),
                                           requested_by=resolved.user, requested_at=timezone.now())
        audit_event_record(action="evidence_pack.requested", target=pack, actor=resolved,
                           details={"parameters": params})
        transaction.on_commit(lambda: _enqueue(pack.pk))
    return pack


def _enqueue(pack_id: int) -> None:
    from .tasks import generate_evidence_pack

    generate_evidence_pack.delay(pack_id)


def _set(pack_id: int, **fields: Any) -> None:
    EvidencePack.objects.filter(pk=pack_id).update(**fields)


def evidence_pack_generate(*, pack_id: int, actor) -> EvidencePack:
    """Build the ZIP into a temporary file, then stream it into the archive storage. Safe to
    run again for a pack that failed or was interrupted (a ready pack is left alone)."""
    pack = EvidencePack.objects.select_related("requested_by").get(pk=pack_id)
    if pack.status == EvidencePack.Status.READY:
        return pack
    resolved = resolve_actor(actor)
    key_record = publish_current_key()
    started = timezone.now()
    _set(pack.pk, status=EvidencePack.Status.RUNNING, progress=1, started_at=started, error="")
    try:
        # Every pack anchors the head it was generated at outside the database (apps.audit.anchors).
        anchor = chain_anchor_write(reason=f"evidence pack {pack.pk}")
        generation = {"pack_id": pack.pk, "requested_by": pack.requested_by.get_username(),
                      "requested_at": pack.requested_at.isoformat(), "generated_at": started.isoformat(),
                      "generated_by": resolved.label, "portal_chain_head": portal_chain_head(),
                      "chain_anchor": anchor.name if anchor else None}
        with tempfile.TemporaryFile(suffix=".zip") as tmp:
            builder = PackBuilder(pack.parameters, generation=generation,
                                  on_progress=lambda p: _set(pack.pk, progress=max(1, p)))
            # The pack's rows may come from the read replica once it has replayed everything
            # written before the pack started; otherwise from the primary (dbrouter.py).
            with replica_reads(caught_up=True):
                manifest = builder.build(tmp)
            tmp.seek(0)
            digest = hashlib.sha256()
            for block in iter(lambda: tmp.read(1024 * 1024), b""):
                digest.update(block)
            size = tmp.tell()
            tmp.seek(0)
            name = f"evidence-packs/pack-{pack.pk:06d}-{digest.hexdigest()[:12]}.zip"
            stored = archive_storage().save(name, File(tmp, name=name))
    except Exception as exc:
        logger.exception("evidence pack %s failed", pack.pk)
        with transaction.atomic():
            _set(pack.pk, status=EvidencePack.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
            audit_event_record(action="evidence_pack.failed", target=pack, actor=resolved,
                               details={"error": str(exc)[:500]})
        pack.refresh_from_db()
        return pack
    with transaction.atomic():
        _set(pack.pk, status=EvidencePack.Status.READY, progress=100, finished_at=timezone.now(), path=stored,
             sha256=digest.hexdigest(), size=size, counts=manifest["counts"], signing_key=key_record)
        pack.refresh_from_db()
        audit_event_record(action="evidence_pack.generated", target=pack, actor=resolved,
                           details={"sha256": pack.sha256, "size": size, "files": len(manifest["files"]),
                                    "checkpoint": manifest["audit"]["checkpoint"], "key_id": key_record.key_id,
                                    "chain_anchor": {"seq": anchor.seq, "hash": anchor.hash, "file": anchor.name}
                                    if anchor else None})
    return pack


def evidence_pack_open(*, pack: EvidencePack, actor):
    """The stored ZIP, opened for a download that is audited before a byte leaves."""
    resolved = resolve_actor(actor)
    if not can_use_evidence_packs(resolved.user):
        raise NotAllowed("Evidence packs are for auditors.", code="not_an_auditor")
    if pack.status != EvidencePack.Status.READY or not pack.path:
        raise Conflict("This pack is not ready.", code="pack_not_ready")
    handle = archive_storage().open(pack.path, "rb")
    audit_event_record(action="evidence_pack.downloaded", target=pack, actor=resolved,
                       details={"sha256": pack.sha256})
    return handle
