from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class IncidentClassification(models.Model):
    """The taxonomy, managed in the admin (code defect, configuration error, ...)."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    is_release_related = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1 — critical"
        SEV2 = "sev2", "SEV2 — major"
        SEV3 = "sev3", "SEV3 — minor"
        SEV4 = "sev4", "SEV4 — low"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MITIGATED = "mitigated", "Mitigated"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    classification = models.ForeignKey(IncidentClassification, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="incidents")
    commander = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="incidents_commanded")
    started_at = models.DateTimeField()
    detected_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Explicit link (METRICS.md); the inferred link is computed, and can be overridden by the
    # incidents app with a reason.
    caused_by_deployment = models.ForeignKey("delivery.Deployment", null=True, blank=True, on_delete=models.PROTECT,
                                             related_name="incidents_caused")
    # Link override (apps.incidents.linking): "no deployment caused this", with who, when and why.
    # An override *to* a deployment sets caused_by_deployment and records the reason here too.
    link_suppressed = models.BooleanField(default=False)
    link_override_reason = models.TextField(blank=True)
    link_overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    link_overridden_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["service", "started_at"], name="incident_svc_started_idx")]

    def __str__(self) -> str:
        return f"INC-{self.pk} {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def review_required(self) -> bool:
        return self.severity in REVIEW_REQUIRED_SEVERITIES


REVIEW_REQUIRED_SEVERITIES = (Incident.Severity.SEV1, Incident.Severity.SEV2)


class IncidentUpdate(models.Model):
    """One entry on an incident's status timeline: a status change, a note, a link override,
    a rollback, an attachment. Appended only (there is no edit path)."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        STATUS = "status", "Status change"
        NOTE = "note", "Update"
        LINK = "link", "Link override"
        ROLLBACK = "rollback", "Rollback"
        ATTACHMENT = "attachment", "Evidence attached"
        REVIEW = "review", "Review"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NOTE)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    message = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    history = governed_history()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.get_kind_display()}"


class ServiceSubscription(models.Model):
    """A person who wants incident emails for a service they do not own."""

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="incident_subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="incident_subscriptions")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "user"], name="unique_incident_subscription")]

    def __str__(self) -> str:
        return f"{self.user} → {self.service}"


class IncidentNotification(models.Model):
    """One email event (opened, an update, a rollback, the resolution) and whom it reached.

    `event_key` is unique, so an event is sent once however often the task runs."""

    class Event(models.TextChoices):
        OPENED = "opened", "Incident opened"
        UPDATE = "update", "Status update"
        ROLLBACK = "rollback", "Rollback"
        RESOLVED = "resolved", "Incident resolved"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10, choices=Event.choices)
    event_key = models.CharField(max_length=100, unique=True)
    subject = models.CharField(max_length=250, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.event_key


def attachment_path(instance: IncidentAttachment, filename: str) -> str:
    # Content-addressed under the incident: the stored name says nothing the user typed.
    return f"incidents/{instance.incident_id}/{instance.sha256}"


class ImmutableRecord(Exception):
    pass


class IncidentAttachment(models.Model):
    """Pre-rollback evidence (logs, metric snapshots, notes). Immutable once attached."""

    class Kind(models.TextChoices):
        LOG = "log", "Log"
        METRICS = "metric_snapshot", "Metric snapshot"
        NOTE = "note", "Note"
        OTHER = "other", "Other"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"

    def save(self, *args, **kwargs) -> None:
        # Evidence must be the bytes that were attached: a second save is refused, not merged.
        if self.pk is not None or not self._state.adding:
            raise ImmutableRecord("An incident attachment cannot be changed once attached.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord("An incident attachment cannot be deleted.")


class IncidentRollback(models.Model):
    """A deployment of kind `rollback`, tied to the incident and the deployment it rolled back."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="rollbacks")
    deployment = models.ForeignKey("delivery.Deployment", on_delete=models.PROTECT, related_name="incident_rollbacks")
    failed_deployment = models.ForeignKey("delivery.Deployment", null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="incident_rollbacks_of")
    runbook = models.ForeignKey("incidents.Runbook", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="rollbacks")
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["incident", "deployment"], name="unique_rollback_per_incident")]

    def __str__(self) -> str:
        return f"Rollback {self.deployment_id} for INC-{self.incident_id}"


class Runbook(models.Model):
    """A service's rollback runbook: ordered steps, an owner, and its test records."""

    service = models.OneToOneField("catalog.Service", on_delete=models.PROTECT, related_name="rollback_runbook")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="runbooks_owned")
    summary = models.TextField(blank=True)
    # Denormalised from the last passing test so lists and the dashboard filter in SQL.
    last_tested_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    history = governed_history()

    class Meta:
        ordering = ["service__name"]

    def __str__(self) -> str:
        return f"Rollback runbook: {self.service}"


class RunbookStep(models.Model):
    class Area(models.TextChoices):
        CODE = "code", "Code"
        CONFIGURATION = "configuration", "Configuration"
        SCHEMA = "schema", "Schema"

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    area = models.CharField(max_length=15, choices=Area.choices)
    instruction = models.TextField()
    verification = models.TextField(blank=True, help_text="How to tell the step worked")

    history = governed_history()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["runbook", "position"], name="unique_runbook_step_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_area_display()}"


class RunbookTest(models.Model):
    class Outcome(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="tests")
    tested_at = models.DateTimeField()
    tested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=6, choices=Outcome.choices)
    environment = models.ForeignKey("catalog.Environment", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    notes = models.TextField(blank=True)

    history = governed_history()

    class Meta:
        ordering = ["-tested_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.runbook} tested {self.tested_at:%Y-%m-%d}: {self.outcome}"


class Review(models.Model):
    """A blameless post-incident review."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        COMPLETED = "completed", "Completed"

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="review")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reviews_facilitated")
    due_date = models.DateField(db_index=True)
    summary = models.TextField(blank=True)
    timeline = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    what_went_well = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return f"Review of INC-{self.incident_id}"

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.status != self.Status.COMPLETED and self.due_date < today


class ActionItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    class Type(models.TextChoices):
        NEW_TEST = "new_test", "New test"
        MONITORING = "monitoring", "Monitoring"
        APPROVAL_POLICY = "approval_policy", "Approval policy"
        RUNBOOK = "runbook", "Runbook"
        PIPELINE_CHECK = "pipeline_check", "Pipeline check"
        OTHER = "other", "Other"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_action_items")
    due_date = models.DateField(db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.status in self.OPEN_STATUSES and self.due_date < today
