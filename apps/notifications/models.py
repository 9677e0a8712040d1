"""Chat channels of a team (Slack or Microsoft Teams incoming webhooks) and the messages sent to them.

The webhook URL is the credential (whoever holds it may post to the channel): it is encrypted at
rest (apps/audit/encryption.py), left out of history, never in an audit event, a log line, an
error or an API answer; people see `webhook_hint` (host and last four characters)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.audit.encryption import EncryptedTextField
from apps.audit.history import governed_history


class ChatEvent(models.TextChoices):
    APPROVAL_REQUESTED = "approval_requested", "Approval requested"
    APPROVAL_REMINDER = "approval_reminder", "Approval reminder or SLA escalation"
    GATE_DENIED_PROD = "gate_denied_prod", "Gate denied a production deployment"
    INCIDENT_OPENED = "incident_opened", "Incident opened"
    ROLLBACK = "rollback", "Rollback"


class ChatChannel(models.Model):
    class Kind(models.TextChoices):
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="chat_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, help_text="What people call the channel, e.g. #payments-releases")
    webhook_url = EncryptedTextField(help_text="Incoming webhook URL (a secret: encrypted at rest, shown masked)")
    webhook_hint = models.CharField(max_length=120, blank=True)
    events = models.JSONField(default=list, help_text="The ChatEvent values this channel receives")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    history = governed_history(excluded_fields=["webhook_url"])

    class Meta:
        ordering = ["team", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="chat_channel_name_per_team")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name} ({self.team_id})"

    def receives(self, event: str) -> bool:
        return self.enabled and event in self.events


class ChatDelivery(models.Model):
    """One message to one channel: queued in the transaction that caused it, sent by a Celery
    task after commit, retried on network errors, 5xx and 429; the final outcome stays here.
    A row still queued long after its last sign of life (the broker was down, the message was
    lost with a worker) is handed to the workers again by the re-send job (apps/notifications/
    reaper.py), `requeues` times at most CHAT_DELIVERY_MAX_REQUEUES, then failed."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(ChatChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=30, choices=ChatEvent.choices)
    # What the message is about: "changes.changerequest" / "42" / "CHG-000042".
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True)
    facts = models.JSONField(default=list)  # [[label, value], ...]
    link = models.URLField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    requeues = models.PositiveIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["channel", "-created_at"], name="chat_delivery_recent_idx"),
                   # The re-send job looks at queued rows only.
                   models.Index(fields=["created_at"], name="chat_delivery_queued_idx",
                                condition=models.Q(status="queued"))]
        verbose_name_plural = "chat deliveries"

    def __str__(self) -> str:
        return f"{self.event} {self.target_repr} → channel {self.channel_id}: {self.status}"
