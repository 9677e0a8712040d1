"""First-hour log review: fingerprints with counts; the ones never seen before are new."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class LogReview(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Awaiting sign-off"
        SIGNED_OFF = "signed_off", "Signed off"

    deployment = models.OneToOneField("delivery.Deployment", on_delete=models.CASCADE, related_name="log_review")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # True for a production deployment of a high-risk change: the change closes only after sign-off.
    sign_off_required = models.BooleanField(default=False)
    total_fingerprints = models.PositiveIntegerField(default=0)
    new_fingerprints = models.PositiveIntegerField(default=0)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    signed_off_at = models.DateTimeField(null=True, blank=True)
    sign_off_note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Log review of deployment {self.deployment_id} ({self.status})"


class LogFingerprint(models.Model):
    review = models.ForeignKey(LogReview, on_delete=models.CASCADE, related_name="fingerprints")
    # Denormalised: "seen before" asks for earlier fingerprints of the same service.
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=128)
    message = models.TextField(blank=True)
    count = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    is_new = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_new", "-count", "fingerprint"]
        indexes = [models.Index(fields=["service", "fingerprint", "first_seen"], name="logfp_service_seen_idx")]
        constraints = [models.UniqueConstraint(fields=["review", "fingerprint"], name="one_fingerprint_per_review")]

    def __str__(self) -> str:
        return f"{self.fingerprint} ×{self.count}"
