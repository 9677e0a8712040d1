from __future__ import annotations

from django.conf import settings
from django.db import models

from .actor import ACTOR_KINDS

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One link of the hash chain. Written only by `apps.audit.services`; the database refuses
    UPDATE and DELETE on this table (apps/audit/triggers.py)."""

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_type = models.CharField(max_length=20, choices=[(k, k) for k in ACTOR_KINDS])
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    object_repr = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.CharField(max_length=45, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor_label", "seq"], name="audit_actor_idx"),
        ]
        permissions = [("view_audit_log", "Can view and export the audit log")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"
