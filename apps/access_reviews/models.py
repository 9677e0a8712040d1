"""Deployment privileges (grants) and the campaigns that review them.

A grant is the single source of truth for a production privilege: the guardian object
permission on the Service exists exactly while an active grant backs it (see derivation.py)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.audit.history import governed_history
from apps.catalog.privileges import APPROVER, DEPLOYER, SERVICE_ADMIN


class Privilege(models.TextChoices):
    DEPLOYER = DEPLOYER, "Deployer"
    APPROVER = APPROVER, "Approver"
    SERVICE_ADMIN = SERVICE_ADMIN, "Service admin"


class AccessGrantQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> AccessGrantQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expired_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def production(self) -> AccessGrantQuerySet:
        return self.filter(environment__is_production=True)


class AccessGrant(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_grants")
    privilege = models.CharField(max_length=20, choices=Privilege.choices)
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="access_grants")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="access_grants")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    justification = models.TextField()
    expires_at = models.DateTimeField(null=True, blank=True)
    # Set by the expiry task when expires_at passed: the grant is over, like a revocation.
    expired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revoked_reason = models.CharField(max_length=300, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Set when something happened that a reviewer should look at (the holder left the owning team).
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_reason = models.CharField(max_length=300, blank=True)

    objects = AccessGrantQuerySet.as_manager()
    # last_used_at is refreshed by a single UPDATE on every use: not a governed change.
    history = governed_history(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["service__slug", "privilege", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "privilege", "service", "environment"],
                condition=Q(revoked_at__isnull=True, expired_at__isnull=True),
                name="access_grant_one_live_per_privilege",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "service"], name="access_grant_user_service"),
            models.Index(fields=["service", "privilege"], name="access_grant_service_priv"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.privilege} · {self.service} ({self.environment})"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expired_at is not None or (self.expires_at is not None and self.expires_at <= timezone.now()):
            return "expired"
        return "active"

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def days_inactive(self, now: datetime | None = None, token_last_used: datetime | None = None) -> int:
        """Days since the privilege was last exercised (since it was granted when never used)."""
        reference = max([t for t in (self.last_used_at, token_last_used) if t is not None], default=self.granted_at)
        return max(0, ((now or timezone.now()) - reference).days)


class ReviewCampaign(models.Model):
    class Scope(models.TextChoices):
        ALL_PRODUCTION = "all_production", "All production grants"
        TEAM = "team", "One team's services"
        COMPLIANCE = "compliance", "One compliance scope"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        # Closing was asked for; a worker is applying the outcomes. No more decisions.
        CLOSING = "closing", "Closing"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=150)
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ALL_PRODUCTION)
    scope_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    scope_compliance = models.CharField(max_length=20, blank=True)
    # "2026-Q4" for the quarterly campaign beat opens; blank for campaigns opened by hand.
    period = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    due_date = models.DateField()
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="review_campaigns")
    # Policy at close: undecided grants inactive longer than ACCESS_REVIEW_INACTIVE_DAYS are revoked.
    revoke_undecided_inactive = models.BooleanField(default=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    last_reminder_on = models.DateField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # A close handed to a worker (status "closing"): who asked, when the current attempt was
    # dispatched, how many attempts so far, and why the last one did not finish (apps/access_reviews/reaper.py;
    # shown on the campaign page). Cleared when the campaign closes.
    close_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    close_requested_at = models.DateTimeField(null=True, blank=True)
    close_attempts = models.PositiveSmallIntegerField(default=0)
    close_error = models.CharField(max_length=300, blank=True, default="")

    history = governed_history()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["period"], condition=~Q(period=""), name="access_campaign_one_per_period"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def scope_label(self) -> str:
        if self.scope == self.Scope.TEAM and self.scope_team_id:
            return f"Team: {self.scope_team}"
        if self.scope == self.Scope.COMPLIANCE:
            return f"Compliance: {self.scope_compliance.upper()}"
        return self.get_scope_display()


class Decision(models.TextChoices):
    KEEP = "keep", "Keep"
    REVOKE = "revoke", "Revoke"
    KEEP_UNTIL = "keep_until", "Keep until"


class ReviewItem(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "", "Pending"
        KEPT = "kept", "Kept"
        KEPT_UNTIL = "kept_until", "Kept until a date"
        REVOKED = "revoked", "Revoked by reviewer"
        REVOKED_BY_POLICY = "revoked_by_policy", "Revoked by policy (undecided, inactive)"
        UNDECIDED = "undecided", "Undecided, left in place"
        ALREADY_ENDED = "already_ended", "Grant had already ended"

    campaign = models.ForeignKey(ReviewCampaign, on_delete=models.PROTECT, related_name="items")
    grant = models.ForeignKey(AccessGrant, on_delete=models.PROTECT, related_name="review_items")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_items")
    # The accountable reviewer first chosen, when the item had to go to someone else (self-review).
    reassigned_from = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    assignment_note = models.CharField(max_length=200, blank=True)
    # Snapshot at opening: role and team facts a reviewer needs (see services.campaign_open).
    context = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True)
    keep_until = models.DateField(null=True, blank=True)
    justification = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "grant"], name="access_item_one_per_grant"),
        ]
        indexes = [
            # The reviewer page: my undecided items, in id order, one page at a time.
            models.Index(fields=["reviewer", "decision", "id"], name="access_item_reviewer_page"),
            models.Index(fields=["campaign", "decision"], name="access_item_campaign_dec"),
        ]

    def __str__(self) -> str:
        return f"Review of {self.grant_id} in {self.campaign_id}"

    @property
    def is_decided(self) -> bool:
        return bool(self.decision)


class CampaignReport(models.Model):
    """A completion report file, written once. Its SHA-256 is taken over the stored bytes; the
    file name carries the digest, so a later file can never take its place unnoticed."""

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        CSV = "csv", "CSV"

    campaign = models.ForeignKey(ReviewCampaign, on_delete=models.PROTECT, related_name="reports")
    format = models.CharField(max_length=5, choices=Format.choices)
    path = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["campaign", "format"]
        constraints = [models.UniqueConstraint(fields=["campaign", "format"], name="access_report_one_per_format")]

    def __str__(self) -> str:
        return f"{self.campaign} report ({self.format})"

    def save(self, *args, **kwargs):
        # Evidence is written once: an existing report row is never updated.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("A campaign report is immutable once stored.")
        super().save(*args, **kwargs)
