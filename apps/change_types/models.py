from __future__ import annotations

from django.db import models

from apps.audit.history import governed_history

RISK_LEVELS = ["low", "medium", "high", "critical"]


class ChangeType(models.Model):
    """A kind of change and its approval workflow (stages live in ApprovalStage)."""

    class CabRequired(models.TextChoices):
        NEVER = "never", "Never"
        ALWAYS = "always", "Always"
        FROM_RISK = "from_risk", "From a risk level up"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    is_pre_approved = models.BooleanField(default=False, help_text="Standard change: no approval stages")
    is_emergency = models.BooleanField(default=False, help_text="May be implemented on an emergency override")
    cab_required = models.CharField(max_length=12, choices=CabRequired.choices, default=CabRequired.NEVER)
    cab_from_risk = models.CharField(max_length=10, choices=[(r, r) for r in RISK_LEVELS], blank=True, default="")
    is_active = models.BooleanField(default=True)

    history = governed_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
