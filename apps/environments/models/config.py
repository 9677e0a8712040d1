"""Approved configuration baselines, observations of what runs, drift findings and the
per-environment configuration policy (issue #13; rules in apps/environments/config_services.py).

No field here ever holds a clear secret: baseline secrets are references (`vault://…`), and an
observed clear value of a secret key is kept only as its SHA-256 fingerprint (`fingerprint`
entries in `ConfigObservation.settings`)."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.audit.history import governed_history


class ParityPrecision(models.TextChoices):
    MAJOR = "major", "Major (17 = 17.x)"
    MINOR = "minor", "Minor (17.0 = 17.0.x)"
    PATCH = "patch", "Patch (exact 17.0.9)"


class EnvironmentConfigPolicy(models.Model):
    """How closely an environment is watched. Keyed by environment here (catalog knows nothing of
    configuration). No row: parity at `minor`, and no staleness check."""

    environment = models.OneToOneField("catalog.Environment", on_delete=models.CASCADE,
                                       related_name="config_policy")
    max_hours_without_observation = models.PositiveIntegerField(
        null=True, blank=True, help_text="Flag a service with a baseline here and no observation for longer; "
                                         "empty: never")
    parity_precision = models.CharField(max_length=5, choices=ParityPrecision.choices,
                                        default=ParityPrecision.MINOR)
    updated_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        verbose_name_plural = "environment config policies"

    def __str__(self) -> str:
        return f"{self.environment}: parity {self.parity_precision}"


class ConfigBaseline(models.Model):
    """One version of the approved runtime settings of a service in an environment.

    `settings` is `{"KEY": {"value": str, "secret": bool, "must_match": bool}}`, plus an optional
    `"fingerprint": "<sha256 hex>"` on a secret key (the resolved value's fingerprint, to compare
    with observations that report resolved values). A secret's `value` is always a reference."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"          # the baseline in force
        SUPERSEDED = "superseded", "Superseded"    # approved once, replaced by a later version
        WITHDRAWN = "withdrawn", "Withdrawn"       # its change was rejected or cancelled before approval

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="config_baselines")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="config_baselines")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    change = models.ForeignKey("changes.ChangeRequest", on_delete=models.PROTECT, related_name="config_baselines")
    settings = models.JSONField(default=dict)
    proposed_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    # Usernames of every live approval that backed the change when this version was approved.
    approvers = models.JSONField(default=list, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["service", "environment", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["service", "environment", "version"], name="config_baseline_version"),
            models.UniqueConstraint(fields=["service", "environment"], condition=Q(status="approved"),
                                    name="config_baseline_one_approved"),
            models.UniqueConstraint(fields=["service", "environment"], condition=Q(status="proposed"),
                                    name="config_baseline_one_proposed"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id}/{self.environment_id} v{self.version} ({self.status})"


class ConfigState(models.Model):
    """The latest observation of a service in an environment: what the gate's runtime parity and
    the staleness task read, and the row observations of one service × environment lock so two
    simultaneous observations compare and record findings one after the other."""

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.CASCADE, related_name="+")
    last_observation = models.ForeignKey("ConfigObservation", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    last_observed_at = models.DateTimeField(null=True, blank=True)
    runtimes = models.JSONField(default=dict, blank=True)
    stale_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "environment"], name="config_state_unique")]

    def __str__(self) -> str:
        return f"{self.service_id}/{self.environment_id} observed {self.last_observed_at}"


class ConfigObservation(models.Model):
    """What actually ran, as a pipeline, scanner or agent reported it.

    `settings` is `{"KEY": {"value": str}}` or, for a clear value of a secret key,
    `{"KEY": {"fingerprint": "<sha256 hex>"}}`: the clear value itself is never kept."""

    class Source(models.TextChoices):
        PIPELINE = "pipeline", "Pipeline"
        SCANNER = "scanner", "Scanner"
        AGENT = "agent", "Agent"

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="config_observations")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT,
                                    related_name="config_observations")
    source = models.CharField(max_length=10, choices=Source.choices)
    observed_at = models.DateTimeField()
    deployment = models.ForeignKey("delivery.Deployment", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="config_observations")
    baseline = models.ForeignKey(ConfigBaseline, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    settings = models.JSONField(default=dict)
    runtimes = models.JSONField(default=dict, blank=True)
    drift = models.JSONField(default=list, blank=True)  # the comparison as answered (masked)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-observed_at", "-pk"]
        indexes = [models.Index(fields=["service", "environment", "observed_at"], name="config_obs_svc_env_idx")]

    def __str__(self) -> str:
        return f"observation {self.pk} of {self.service_id}/{self.environment_id} at {self.observed_at}"


class DriftFinding(models.Model):
    """A difference between what runs and the approved baseline: an unauthorised configuration
    change until resolved. One open finding per service × environment × key (a later observation
    updates it); `stale` findings (key "") say nobody has looked for too long."""

    class Kind(models.TextChoices):
        CHANGED = "changed", "Changed"
        MISSING = "missing", "Missing"
        UNEXPECTED = "unexpected", "Unexpected"
        STALE = "stale", "No recent observation"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        REVERTED = "reverted", "Reverted"   # a later observation shows the baseline again
        ACCEPTED = "accepted", "Accepted"   # an approved change put the observed value in the baseline
        OBSERVED = "observed", "Observed"   # a stale finding closed by a new observation

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="drift_findings")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="drift_findings")
    key = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What the baseline says and what ran, as shown: secrets masked, never a clear secret.
    expected = models.CharField(max_length=500, blank=True)
    observed = models.CharField(max_length=500, blank=True)
    secret = models.BooleanField(default=False)
    must_match = models.BooleanField(default=False)  # gate-relevant (config_drift) while open
    baseline = models.ForeignKey(ConfigBaseline, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    first_observation = models.ForeignKey(ConfigObservation, null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+")
    last_observation = models.ForeignKey(ConfigObservation, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    deployment = models.ForeignKey("delivery.Deployment", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="drift_findings")
    # A later observation without the difference (evidence for `reverted`); cleared if it comes back.
    cleared_by = models.ForeignKey(ConfigObservation, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=8, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolving_change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    resolving_baseline = models.ForeignKey(ConfigBaseline, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    resolving_observation = models.ForeignKey(ConfigObservation, null=True, blank=True, on_delete=models.PROTECT,
                                              related_name="+")
    notified_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["-last_seen", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["service", "environment", "key"], condition=Q(status="open"),
                                    name="drift_one_open_per_key"),
        ]
        indexes = [
            models.Index(fields=["status", "environment", "service"], name="drift_status_env_svc_idx"),
            models.Index(fields=["first_seen"], name="drift_first_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"DRIFT-{self.pk} {self.key or self.kind}"

    @property
    def reference(self) -> str:
        return f"DRIFT-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN
