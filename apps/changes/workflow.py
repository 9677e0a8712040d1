"""The approval engine: which stages apply to a change, who may decide in each, and whether each
stage (and the change) is approved, rejected or still waiting.

Stages open in order: a stage is open once every earlier mandatory stage is approved. A stage's
rule (any / all / quorum N) decides when it is satisfied; one rejection in a mandatory stage
rejects the change. A CAB meeting's decision settles the CAB stage on its own."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from apps.change_types.models import ApprovalStage

from . import sod
from .models import Approval, ChangeRequest, ChangeState, OpenStage

STAGE_WAITING = "waiting"  # an earlier mandatory stage is not approved yet
STAGE_OPEN = "open"
STAGE_APPROVED = "approved"
STAGE_REJECTED = "rejected"

OVERALL_NOT_REQUIRED = "not_required"
OVERALL_PENDING = "pending"
OVERALL_APPROVED = "approved"
OVERALL_REJECTED = "rejected"

CONTENT_FIELDS = ["description", "rollout_strategy", "rollback_plan", "rollback_criteria", "planned_start",
                  "planned_end", "service_id", "environment_id", "risk_answers", "risk_level"]


def content_hash(change: ChangeRequest) -> str:
    """SHA-256 of what approvers approve: plan, schedule, service and environment, risk."""
    payload = {}
    for name in CONTENT_FIELDS:
        value = getattr(change, name)
        payload[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def content_fields_changed(before: dict, change: ChangeRequest) -> list[str]:
    return [name for name in CONTENT_FIELDS if before.get(name) != getattr(change, name)]


def content_snapshot(change: ChangeRequest) -> dict:
    return {name: getattr(change, name) for name in CONTENT_FIELDS}


def stage_applies(stage: ApprovalStage, change: ChangeRequest) -> bool:
    if stage.applies_when == ApprovalStage.AppliesWhen.DATABASE_CHANGE:
        return bool((change.risk_answers or {}).get("database_change"))
    if stage.applies_when == ApprovalStage.AppliesWhen.CAB:
        return bool(change.cab_required)
    return True


def applicable_stages(change: ChangeRequest) -> list[ApprovalStage]:
    if change.change_type.is_pre_approved:
        return []
    return [s for s in change.change_type.stages.all() if stage_applies(s, change)]


def sod_excluded_ids(change: ChangeRequest) -> set[int]:
    """Who segregation of duties keeps out of the change's decisions (see sod.py)."""
    return sod.excluded_ids(change)


def stage_member_ids(stage: ApprovalStage, change: ChangeRequest) -> set[int]:
    """Everyone the stage names (before segregation of duties): people only, active ones."""
    from apps.accounts.models import TeamMembership, User

    if stage.approver_kind == ApprovalStage.ApproverKind.OWNING_TEAM:
        return set(TeamMembership.objects.filter(team_id=change.service.owner_team_id, user__is_active=True,
                                                 user__kind=User.Kind.HUMAN).values_list("user_id", flat=True))
    return set(User.objects.filter(groups__name=stage.approver_group, is_active=True, kind=User.Kind.HUMAN)
               .values_list("pk", flat=True))


def user_in_stage(user, stage: ApprovalStage, change: ChangeRequest) -> bool:
    if not user.is_active or getattr(user, "kind", "human") != "human":
        return False
    if stage.approver_kind == ApprovalStage.ApproverKind.OWNING_TEAM:
        return user.memberships.filter(team_id=change.service.owner_team_id).exists()
    return stage.approver_group in user.role_names()


@dataclass
class StageResult:
    stage: ApprovalStage
    status: str
    required: int
    approvals: list[Approval] = field(default_factory=list)
    rejections: list[Approval] = field(default_factory=list)
    decided_in_cab: Approval | None = None

    @property
    def approved_count(self) -> int:
        return len(self.approvals)

    @property
    def still_needed(self) -> int:
        return max(self.required - len(self.approvals), 0)

    def as_api(self) -> dict:
        return {"name": self.stage.name, "order": self.stage.order, "rule": self.stage.rule_label,
                "mandatory": self.stage.mandatory, "required": self.required, "approved": len(self.approvals),
                "rejected": len(self.rejections), "status": self.status, "sla_hours": self.stage.sla_hours,
                "decisions": [decision_as_api(a) for a in (self.approvals + self.rejections)]}


@dataclass
class ApprovalResult:
    stages: list[StageResult]
    status: str

    def as_api(self) -> dict:
        return {"status": self.status, "stages": [s.as_api() for s in self.stages]}

    def open_stages(self) -> list[StageResult]:
        return [s for s in self.stages if s.status == STAGE_OPEN]


def decision_as_api(a: Approval) -> dict:
    return {"approver": a.approver.username, "on_behalf_of": a.on_behalf_of.username if a.on_behalf_of_id else None,
            "decision": a.decision, "comment": a.comment, "decided_at": a.decided_at,
            "cab_meeting": a.cab_meeting_id}


def live_approvals(change: ChangeRequest) -> list[Approval]:
    return list(change.approvals.filter(voided_at__isnull=True).select_related("approver", "on_behalf_of"))


def evaluate(change: ChangeRequest, approvals: list[Approval] | None = None) -> ApprovalResult:
    if approvals is None:
        approvals = live_approvals(change)
    stages = applicable_stages(change)
    if not stages:
        return ApprovalResult(stages=[], status=OVERALL_NOT_REQUIRED)
    excluded: set[int] | None = None
    results: list[StageResult] = []
    blocked = False
    any_rejected = False
    for stage in stages:
        votes = [a for a in approvals if a.stage_id == stage.pk]
        approves = [a for a in votes if a.decision == Approval.Decision.APPROVE]
        rejects = [a for a in votes if a.decision == Approval.Decision.REJECT]
        cab = next((a for a in votes if a.cab_meeting_id), None)
        if stage.rule == ApprovalStage.Rule.ANY:
            required = 1
        elif stage.rule == ApprovalStage.Rule.QUORUM:
            required = stage.quorum
        else:
            if excluded is None:
                excluded = sod_excluded_ids(change)
            required = max(len(stage_member_ids(stage, change) - excluded), 1)
        if cab is not None:
            status = STAGE_APPROVED if cab.decision == Approval.Decision.APPROVE else STAGE_REJECTED
        elif rejects and stage.mandatory:
            status = STAGE_REJECTED
        elif len(approves) >= required:
            status = STAGE_APPROVED
        elif blocked:
            status = STAGE_WAITING
        else:
            status = STAGE_OPEN
        if status == STAGE_REJECTED and stage.mandatory:
            any_rejected = True
        if stage.mandatory and status != STAGE_APPROVED:
            blocked = True
        results.append(StageResult(stage=stage, status=status, required=required, approvals=approves,
                                   rejections=rejects, decided_in_cab=cab))
    if any_rejected:
        overall = OVERALL_REJECTED
    elif all(r.status == STAGE_APPROVED for r in results if r.stage.mandatory):
        overall = OVERALL_APPROVED
    else:
        overall = OVERALL_PENDING
    return ApprovalResult(stages=results, status=overall)


def accepts_decisions(change: ChangeRequest) -> bool:
    """In review; or an emergency change implemented on an override, awaiting retrospective CAB."""
    if change.state == ChangeState.IN_REVIEW:
        return True
    if change.change_type.is_emergency and change.state in (
            ChangeState.IMPLEMENTING, ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK):
        return change.emergency_overrides.filter(revoked_at__isnull=True, retro_approved_at__isnull=True).exists()
    return False


def open_stage_copies(change: ChangeRequest) -> dict:
    """What an open stage copies from its change for the queue (see OpenStage)."""
    return {"requester_id": change.requester_id, "implementer_id": change.implementer_id,
            "service_id": change.service_id, "risk_level": change.risk_level, "planned_start": change.planned_start,
            "environment_id": change.environment_id, "planned_end": change.planned_end}


def sync_open_stages(change: ChangeRequest, result: ApprovalResult | None = None) -> list[OpenStage]:
    """Make OpenStage rows match the stages now waiting for decisions (the queue reads them)."""
    if not accepts_decisions(change):
        OpenStage.objects.filter(change=change).delete()
        return []
    result = result or evaluate(change)
    open_ids = {r.stage.pk for r in result.open_stages()} if result.status == OVERALL_PENDING else set()
    OpenStage.objects.filter(change=change).exclude(stage_id__in=open_ids).delete()
    existing = set(OpenStage.objects.filter(change=change).values_list("stage_id", flat=True))
    now = timezone.now()
    created = []
    for r in result.open_stages():
        if r.stage.pk in existing or r.stage.pk not in open_ids:
            continue
        is_team = r.stage.approver_kind == ApprovalStage.ApproverKind.OWNING_TEAM
        created.append(OpenStage(change=change, stage=r.stage, opened_at=now,
                                 due_at=now + timedelta(hours=r.stage.sla_hours), **open_stage_copies(change),
                                 group_name="" if is_team else r.stage.approver_group,
                                 team_id=change.service.owner_team_id if is_team else None))
    OpenStage.objects.bulk_create(created)
    return created
