"""A release taken to a CAB meeting as a whole, and the deployment strategy chosen for a change
(with why, when it differs from the portal's recommendation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history
from apps.changes.models import RolloutStrategy


class ReleaseCabReview(models.Model):
    """`release` was put on `meeting`'s agenda by `added_by`: the release's changes awaiting CAB
    approval at that moment (`changes`, their numbers) joined the agenda, grouped under the release."""

    release = models.ForeignKey("releases.Release", on_delete=models.CASCADE, related_name="cab_reviews")
    meeting = models.ForeignKey("changes.CabMeeting", on_delete=models.CASCADE, related_name="release_reviews")
    changes = models.JSONField(default=list, blank=True, help_text="Change numbers put on the agenda")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["release", "meeting"], name="release_cab_review_once")]

    def __str__(self) -> str:
        return f"{self.release_id} on CAB {self.meeting_id}"


class StrategyDecision(models.Model):
    """The deployment strategy chosen for a change (one current decision; earlier ones are in its
    history). `reason` is required when `strategy` differs from `recommended`."""

    change = models.OneToOneField("changes.ChangeRequest", on_delete=models.CASCADE, related_name="strategy_decision")
    strategy = models.CharField(max_length=20, choices=RolloutStrategy.choices)
    recommended = models.CharField(max_length=20, choices=RolloutStrategy.choices)
    # The recommendation's reasons, in words, as they stood when the choice was made.
    recommendation_reasons = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        constraints = [models.CheckConstraint(
            condition=models.Q(strategy=models.F("recommended")) | ~models.Q(reason=""),
            name="strategy_decision_differs_with_reason")]

    def __str__(self) -> str:
        return f"{self.strategy} for {self.change_id}"
