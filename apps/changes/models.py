from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history


class ChangeState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENTING = "implementing", "Implementing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    CLOSED = "closed", "Closed"


class RolloutStrategy(models.TextChoices):
    BLUE_GREEN = "blue_green", "Blue/green"
    CANARY = "canary", "Canary"
    ROLLING = "rolling", "Rolling"
    RECREATE = "recreate", "Recreate"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# What an edit may change (services.change_update); what a release manager may change on someone
# else's change (the schedule); what an emergency change may still document after work started.
EDITABLE_FIELDS = frozenset({"title", "description", "planned_start", "planned_end", "rollout_strategy",
                             "rollback_plan", "rollback_criteria", "compliance_scopes", "risk_answers", "implementer",
                             "service", "environment"})
SCHEDULE_FIELDS = frozenset({"planned_start", "planned_end"})
ROLLBACK_FIELDS = frozenset({"rollback_plan", "rollback_criteria"})


class ChangeRequest(models.Model):
    number = models.CharField(max_length=20, unique=True, blank=True, help_text="CHG-000123, assigned on creation")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    change_type = models.ForeignKey("change_types.ChangeType", on_delete=models.PROTECT, related_name="changes")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="changes")
    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="changes")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="changes_requested")
    implementer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="changes_implemented")
    state = models.CharField(max_length=20, choices=ChangeState.choices, default=ChangeState.DRAFT, db_index=True)
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    rollout_strategy = models.CharField(max_length=20, choices=RolloutStrategy.choices, default=RolloutStrategy.ROLLING)
    rollback_plan = models.TextField(blank=True)
    rollback_criteria = models.JSONField(default=dict, blank=True)
    compliance_scopes = models.JSONField(default=list, blank=True)
    risk_answers = models.JSONField(default=dict, blank=True)
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True, default="")
    # SHA-256 of what approvers approve (plan, schedule, service, risk): approvals carry it too.
    content_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    implementation_started_at = models.DateTimeField(null=True, blank=True)
    implemented_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # --- added by the change-control workflow ------------------------------------------------
    standard_template = models.ForeignKey("change_types.StandardChangeTemplate", null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="changes")
    # How the score was made: every contribution named, so the level can be explained.
    risk_breakdown = models.JSONField(default=list, blank=True)
    cab_required = models.BooleanField(default=False)
    # Why the change went back to review (approvals voided by an edit), shown on the change.
    review_reason = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=20, blank=True, default="", help_text="completed / failed / rolled_back")
    post_mortem = models.TextField(blank=True)
    post_mortem_at = models.DateTimeField(null=True, blank=True)
    post_mortem_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    is_unauthorised = models.BooleanField(default=False, help_text="Emergency override expired without CAB approval")

    history = governed_history()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["service", "environment", "state"], name="change_svc_env_state_idx"),
            models.Index(fields=["state", "created_at"], name="change_state_created_idx"),
            # The queue lists waiting changes by planned start: walked in order, stopped at a page.
            models.Index(fields=["planned_start", "id"], name="change_planned_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @staticmethod
    def format_number(pk: int) -> str:
        return f"CHG-{pk:06d}"


class Approval(models.Model):
    """One person's decision in one stage. Bound to the content it approved: an edit voids it."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="approvals")
    stage = models.ForeignKey("change_types.ApprovalStage", on_delete=models.PROTECT, related_name="approvals")
    stage_name = models.CharField(max_length=80)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals_given")
    # Set when the approver decided as someone's delegate: both people are named.
    on_behalf_of = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="approvals_delegated")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)
    decided_at = models.DateTimeField(default=timezone.now)
    cab_meeting = models.ForeignKey("changes.CabMeeting", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="decisions")
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["decided_at", "pk"]
        constraints = [
            # One live decision per person per change: the database refuses a second one even
            # if two requests race past the service's check.
            models.UniqueConstraint(fields=["change", "approver"], condition=models.Q(voided_at__isnull=True),
                                    name="approval_one_live_decision_per_person"),
        ]
        indexes = [
            models.Index(fields=["approver", "decided_at"], name="approval_approver_idx"),
            # "Has this person already decided?" for the queue: answered from the index alone.
            models.Index(fields=["approver", "change"], condition=models.Q(voided_at__isnull=True),
                         name="approval_live_approver_idx"),
            models.Index(fields=["on_behalf_of", "change"],
                         condition=models.Q(voided_at__isnull=True, on_behalf_of__isnull=False),
                         name="approval_live_on_behalf_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision} {self.change_id} ({self.stage_name})"


class OpenStage(models.Model):
    """A stage currently waiting for decisions on a change: what the queue and reminders read.
    Maintained by the approval engine; at most one row per change and stage."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="open_stages")
    stage = models.ForeignKey("change_types.ApprovalStage", on_delete=models.CASCADE, related_name="+")
    group_name = models.CharField(max_length=150, blank=True, db_index=True)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # Copies of what the queue filters and sorts on: the requester and implementer (segregation of
    # duties: neither may decide), service, risk and planned start. Written by the approval engine
    # (workflow.open_stage_copies) and refreshed by change_update, so the queue's page, counts and
    # filters read these rows alone instead of joining every change ever filed.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                  db_index=False)
    implementer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+", db_index=False)
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="+", db_index=False)
    risk_level = models.CharField(max_length=10, blank=True, default="")
    planned_start = models.DateTimeField(null=True, blank=True)
    # What "can this person decide now?" needs beyond that: production (the approver privilege)
    # and the whole planned slot (freezes).
    environment = models.ForeignKey("catalog.Environment", on_delete=models.CASCADE, related_name="+",
                                    db_index=False)
    planned_end = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(db_index=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["change", "stage"], name="open_stage_unique")]
        indexes = [
            models.Index(fields=["team", "group_name"], name="open_stage_who_idx"),
            # The queue walks open stages in planned-start order and stops after a page.
            models.Index(fields=["planned_start", "change"], name="open_stage_planned_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.change_id} waits in {self.stage_id}"


class Delegation(models.Model):
    """An approver hands their decisions to a named colleague for a period."""

    delegator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_given")
    delegate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_received")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="delegation_ends_after_start"),
            models.CheckConstraint(condition=~models.Q(delegator=models.F("delegate")), name="delegation_not_to_self"),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate}"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.starts_at <= at < self.ends_at


class NoticeUnit(models.TextChoices):
    HOURS = "hours", "Hours"
    BUSINESS_DAYS = "business_days", "Business days"


class MaintenanceWindow(models.Model):
    """Recurring time when changes may run, per service and/or environment (blank = all)."""

    name = models.CharField(max_length=120)
    service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey("catalog.Environment", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    starts_at = models.DateTimeField(help_text="First occurrence (DTSTART)")
    duration_minutes = models.PositiveIntegerField(default=120)
    rrule = models.CharField(max_length=300, blank=True, help_text="RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=TU,TH")
    is_active = models.BooleanField(default=True)
    # The stakeholder SLA (issue #15): how much notice a change planned into the window must give,
    # how long it may last, and when the stakeholders review the agreement. Blank = no such term.
    notice_amount = models.PositiveIntegerField(null=True, blank=True, help_text="Notice a change must give")
    notice_unit = models.CharField(max_length=16, choices=NoticeUnit.choices, default=NoticeUnit.BUSINESS_DAYS)
    max_change_minutes = models.PositiveIntegerField(null=True, blank=True,
                                                     help_text="Longest a change planned into the window may last")
    review_on = models.DateField(null=True, blank=True, help_text="When the stakeholders review the SLA")
    # Ending early closes the occurrence open at that moment (later occurrences still come).
    ended_early_at = models.DateTimeField(null=True, blank=True)
    ended_early_reason = models.CharField(max_length=300, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_sla(self) -> bool:
        return bool(self.notice_amount or self.max_change_minutes or self.review_on)

    def review_overdue(self, today=None) -> bool:
        if self.review_on is None:
            return False
        return self.review_on < (today or timezone.localdate())

    @property
    def notice_label(self) -> str:
        if not self.notice_amount:
            return ""
        unit = "business day" if self.notice_unit == NoticeUnit.BUSINESS_DAYS else "hour"
        return f"{self.notice_amount} {unit}{'' if self.notice_amount == 1 else 's'}"


class WindowAgreement(models.Model):
    """Who agreed to a maintenance window's SLA, and when: a person, or a named stakeholder group
    (e.g. "Card operations") whose agreement someone recorded."""

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="agreements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    group_name = models.CharField(max_length=120, blank=True)
    agreed_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    history = governed_history()

    class Meta:
        ordering = ["agreed_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(user__isnull=False) | ~models.Q(group_name=""),
                                              name="window_agreement_names_someone")]

    def __str__(self) -> str:
        return f"{self.user_id or self.group_name} agreed {self.window_id}"


class Freeze(models.Model):
    """A period when only emergency changes may run: global, or scoped to a service, environment or team."""

    name = models.CharField(max_length=120)
    reason = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    service = models.ForeignKey("catalog.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey("catalog.Environment", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    ended_early_at = models.DateTimeField(null=True, blank=True)
    ended_early_reason = models.CharField(max_length=300, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["starts_at"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="freeze_ends_after_start")]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_label(self) -> str:
        parts = [str(x) for x in (self.service, self.environment, self.team) if x is not None]
        return ", ".join(parts) if parts else "global"


class EmergencyOverride(models.Model):
    """A release manager's time-bound authorisation to implement an emergency change now."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="emergency_overrides")
    authorised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    authorised_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    retro_approved_at = models.DateTimeField(null=True, blank=True)
    unauthorised_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["-authorised_at"]

    def __str__(self) -> str:
        return f"Override for {self.change_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.unauthorised_at is None and self.expires_at > at


class CabMeeting(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        HELD = "held", "Held"
        CANCELLED = "cancelled", "Cancelled"

    title = models.CharField(max_length=120)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=60)
    chair = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="CabMember", related_name="cab_meetings")
    quorum = models.PositiveSmallIntegerField(default=3)
    minutes = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)

    history = governed_history()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.title} {self.starts_at:%Y-%m-%d}"


class CabMember(models.Model):
    meeting = models.ForeignKey(CabMeeting, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    present = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "user"], name="cab_member_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.meeting_id}"


class CabAgendaItem(models.Model):
    class Decision(models.TextChoices):
        PENDING = "", "Pending"
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        DEFER = "defer", "Deferred"

    meeting = models.ForeignKey(CabMeeting, on_delete=models.CASCADE, related_name="agenda")
    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="cab_items")
    position = models.PositiveSmallIntegerField(default=0)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    notes = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    history = governed_history()

    class Meta:
        ordering = ["meeting", "position"]
        constraints = [models.UniqueConstraint(fields=["meeting", "change"], name="cab_agenda_change_once")]

    def __str__(self) -> str:
        return f"{self.meeting_id}: {self.change_id}"


class CalendarFeed(models.Model):
    """A per-user secret URL for the iCalendar feed. Only the SHA-256 of the secret is kept;
    rotating replaces it, revoking removes it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}"


class ApprovalReminder(models.Model):
    """Reminders and escalations sent, so the beat task never sends one twice."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey("change_types.ApprovalStage", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12)  # reminder | escalation
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["change", "stage", "kind"], name="reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.change_id}/{self.stage_id}"


class InformationRequest(models.Model):
    """An approver's question to the requester ("request more information"): not a decision, it
    counts toward no stage. While it is open the change waits for its requester's answer (it cannot
    be approved and leaves the approvers' queues); the answer puts it back."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="information_requests")
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    question = models.TextField()
    asked_at = models.DateTimeField(default=timezone.now)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    history = governed_history()

    class Meta:
        ordering = ["asked_at", "pk"]
        constraints = [
            # One open question per change: a second approver adds to the conversation after the answer.
            models.UniqueConstraint(fields=["change"], condition=models.Q(answered_at__isnull=True),
                                    name="information_request_one_open_per_change"),
        ]

    def __str__(self) -> str:
        return f"{self.change_id}: {self.question[:40]}"
