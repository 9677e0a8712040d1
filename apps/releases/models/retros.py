"""The improvement loop: a retrospective after every release and every rollback, issues users
report against a release, and typed action items that close only once what they produced is live."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class Retrospective(models.Model):
    class Kind(models.TextChoices):
        RELEASE = "release", "After a release"
        ROLLBACK = "rollback", "After a rollback"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HELD = "held", "Held"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    release = models.ForeignKey("releases.Release", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="retrospectives")
    # The rollback deployment a rollback retrospective looks back on.
    deployment = models.ForeignKey("delivery.Deployment", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="retrospectives")
    service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="retrospectives")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    held_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["release"], condition=models.Q(release__isnull=False),
                                    name="one_retrospective_per_release"),
            models.UniqueConstraint(fields=["deployment"], condition=models.Q(deployment__isnull=False),
                                    name="one_retrospective_per_rollback"),
            models.CheckConstraint(name="retrospective_names_what_it_follows", condition=(
                models.Q(kind="release", release__isnull=False) | models.Q(kind="rollback", deployment__isnull=False))),
        ]

    def __str__(self) -> str:
        return self.title


class UserIssue(models.Model):
    """A problem users reported after a release, filed by support or operations."""

    class Channel(models.TextChoices):
        SUPPORT = "support", "Support"
        OPERATIONS = "operations", "Operations"

    class Impact(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    release = models.ForeignKey("releases.Release", on_delete=models.PROTECT, related_name="user_issues")
    service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    impact = models.CharField(max_length=6, choices=Impact.choices, default=Impact.MEDIUM)
    customer_reference = models.CharField(max_length=100, blank=True, help_text="The support ticket, if any")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-reported_at", "-id"]

    def __str__(self) -> str:
        return self.title


class RetroAction(models.Model):
    class Type(models.TextChoices):
        NEW_TEST_TYPE = "new_test_type", "New test type"
        NEW_CHECK = "new_check", "New check"
        NEW_APPROVAL_STEP = "new_approval_step", "New approval step"
        MONITORING_COVERAGE = "monitoring_coverage", "Monitoring coverage"

    class LinkKind(models.TextChoices):
        POLICY_CHANGE = "policy_change", "Policy change (a change request)"
        GATE_RULE = "gate_rule", "Gate rule"
        HEALTH_CHECK = "health_check", "Health check"
        TEMPLATE_VERSION = "template_version", "Pipeline template version"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SHIPPED = "shipped", "Shipped"

    retrospective = models.ForeignKey(Retrospective, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    # What the action produced: a change number, a gate rule name, a health check, "template@version".
    link_kind = models.CharField(max_length=20, choices=LinkKind.choices)
    link_ref = models.CharField(max_length=120)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    shipped_at = models.DateTimeField(null=True, blank=True)
    # How the portal saw it live when it closed ("gate rule releases.dependencies is registered").
    verification = models.CharField(max_length=300, blank=True)
    # For a health-check link: the validation health policy whose check the action produced
    # (link_ref names it as "<service>/<environment>:<metric>").
    health_policy = models.ForeignKey("validation.HealthPolicy", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")

    history = governed_history()

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["opened_at"], name="retroaction_opened_idx"),
                   models.Index(fields=["shipped_at"], name="retroaction_shipped_idx")]

    def __str__(self) -> str:
        return self.title
