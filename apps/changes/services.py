"""Change request services. Every state change of a change request goes through
`change_transition`, checked against state_machine.TRANSITIONS."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_copy_many
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, PortalError

from . import notifications, risk, sod, workflow
from .approval_hooks import run_approval_hooks
from .close_guards import close_objection
from .models import (
    EDITABLE_FIELDS,
    ROLLBACK_FIELDS,
    Approval,
    ChangeRequest,
    ChangeState,
    Delegation,
    EmergencyOverride,
    Freeze,
    MaintenanceWindow,
    OpenStage,
)
from .permissions import can_record_post_mortem, edit_scope, may_submit
from .schedule import blocking_freeze, change_conflicts
from .selectors import (
    BASIS_STANDARD_TEMPLATE,
    active_emergency_override,
    approval_basis,
    approval_status,
)
from .state_machine import (
    DECISION_STATES,
    EDITABLE_STATES,
    MANUAL_MOVES,
    MANUAL_ORDER,
    RELEASE_MANAGER_MOVES,
    STARTED_STATES,
    is_allowed,
)
from .transition_guards import guard_refusal

_TIMESTAMP_ON_ENTRY = {
    ChangeState.IN_REVIEW: "submitted_at",
    ChangeState.APPROVED: "approved_at",
    ChangeState.IMPLEMENTING: "implementation_started_at",
    ChangeState.COMPLETED: "implemented_at",
    ChangeState.FAILED: "implemented_at",
    ChangeState.ROLLED_BACK: "implemented_at",
    ChangeState.CLOSED: "closed_at",
}
_OUTCOMES = {ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK}
_WORK_STATES = {ChangeState.SCHEDULED, ChangeState.IMPLEMENTING}


def missing_rollback(change: ChangeRequest) -> dict[str, list[str]]:
    """The rollback fields a production change still lacks, by field name."""
    missing: dict[str, list[str]] = {}
    if not (change.rollback_plan or "").strip():
        missing["rollback_plan"] = ["A production change needs a rollback plan."]
    if not change.rollback_criteria:
        missing["rollback_criteria"] = ["A production change needs rollback criteria (when to roll back)."]
    return missing


def _not_approved(change: ChangeRequest, to_state: str) -> Conflict:
    message = (f"{change.number or 'This change'} cannot become {to_state}: no approval on record covers it "
               "(every mandatory stage approved for its current content, a pre-approved standard template, "
               "or an active emergency override).")
    return Conflict(message, code="change_not_approved", fields={"state": [message]})


def transition_refusal(change: ChangeRequest, to_state: str) -> PortalError | None:
    """Why `change` may not move to `to_state` now, or None. The table first, then the rules every
    path into a state must respect: work only on the approval record, review states only from the
    approval engine, close only with the post-mortem and (emergency, production) the rollback plan,
    complete (and close a completed change) only when every close guard of the apps above agrees."""
    from_state = change.state
    if not is_allowed(from_state, to_state):
        return Conflict(f"A change in state '{from_state}' cannot move to '{to_state}'.", code="invalid_transition",
                        fields={"state": [f"{from_state} → {to_state} is not allowed"]})
    if to_state == ChangeState.IMPLEMENTING and from_state == ChangeState.IN_REVIEW:
        if not (change.change_type.is_emergency and active_emergency_override(change) is not None):
            return Conflict("A change in review may only be implemented on an active emergency override.",
                            code="override_required", fields={"state": ["No active emergency override."]})
    elif to_state == ChangeState.SCHEDULED and from_state == ChangeState.DRAFT:
        if approval_basis(change) != BASIS_STANDARD_TEMPLATE:
            return _not_approved(change, to_state)
    elif to_state in _WORK_STATES and approval_basis(change) is None:
        return _not_approved(change, to_state)
    if to_state == ChangeState.APPROVED and approval_status(change) not in (workflow.OVERALL_APPROVED,
                                                                          workflow.OVERALL_NOT_REQUIRED):
        return _not_approved(change, to_state)
    if to_state == ChangeState.REJECTED and workflow.evaluate(change).status != workflow.OVERALL_REJECTED:
        return Conflict("Only a rejection in a mandatory stage rejects a change.", code="not_rejected",
                        fields={"state": ["No rejection on record."]})
    if to_state == ChangeState.COMPLETED or (to_state == ChangeState.CLOSED and from_state == ChangeState.COMPLETED):
        # What the apps above changes require first (close_guards.py: validation's log review sign-off).
        objection = close_objection(change, to_state)
        if objection is not None:
            code, message, fields = objection
            return Conflict(message, code=code, fields=fields)
    if to_state == ChangeState.CLOSED:
        if change.post_mortem_due_at is not None and not change.post_mortem_at:
            return Conflict("An emergency change cannot close before its post-mortem is recorded.",
                            code="post_mortem_required", fields={"post_mortem": ["Record the post-mortem first."]})
        if change.change_type.is_emergency and change.environment.is_production:
            missing = missing_rollback(change)
            if missing:
                return Conflict("An emergency change may start without a rollback plan, but cannot close without "
                                f"one: record {' and '.join(missing)} first.", code="rollback_plan_required",
                                fields=missing)
    return guard_refusal(change, to_state)


def _void_live_approvals(change: ChangeRequest, *, actor: Any, reason: str) -> int:
    """Void every live decision on `change`, each with the reason, in its history too."""
    ids = list(change.approvals.filter(voided_at__isnull=True).values_list("pk", flat=True))
    if ids:
        now = timezone.now()
        Approval.objects.filter(pk__in=ids).update(voided_at=now, void_reason=reason[:300])
        history_copy_many(Approval, ids, actor=actor, when=now, reason="voided")
    return len(ids)


def change_transition(*, change: ChangeRequest, to_state: str, actor: Any, reason: str = "",
                      details: dict | None = None) -> ChangeRequest:
    """Move a change to `to_state` if the table and its guards allow it (transition_refusal):
    row-locked, in history and one audit event. Every path (pages, API, deployments, tasks) comes here.

    Going back voids nothing silently: in_review → draft (withdrawn) and approved/scheduled →
    in_review void every live approval, with the reason on each approval, in the history row and
    in the audit event (`approvals_voided`, `void_reason`).

    Returns the locked, updated instance. Raises Conflict (409 `invalid_transition`,
    `change_not_approved`, `override_required`, …) otherwise."""
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = (ChangeRequest.objects.select_for_update(of=("self",))
                  .select_related("change_type", "service", "environment", "standard_template").get(pk=change.pk))
        from_state = locked.state
        refusal = transition_refusal(locked, to_state)
        if refusal is not None:
            raise refusal
        extra: dict[str, Any] = {}
        going_back = (to_state == ChangeState.DRAFT or (
            to_state == ChangeState.IN_REVIEW and from_state in (ChangeState.APPROVED, ChangeState.SCHEDULED)))
        if going_back:
            what = "withdrawn to draft" if to_state == ChangeState.DRAFT else "sent back to review"
            void_reason = f"{from_state} → {to_state} ({what}) by {resolved.label}: earlier approvals are void."
            if reason:
                void_reason = f"{void_reason} {reason}"
            voided = _void_live_approvals(locked, actor=resolved, reason=void_reason)
            if voided:
                extra = {"approvals_voided": voided, "void_reason": void_reason[:300]}
                reason = void_reason
        locked.state = to_state
        stamp = _TIMESTAMP_ON_ENTRY.get(to_state)
        if stamp and (getattr(locked, stamp) is None or to_state == ChangeState.IN_REVIEW):
            setattr(locked, stamp, timezone.now())
        if to_state in _OUTCOMES:
            locked.outcome = to_state
        locked._change_reason = reason[:100] if reason else f"{from_state} → {to_state}"
        locked._history_user = resolved.user
        locked.save()
        audit_event_record(action=f"change.{to_state}", target=locked, actor=resolved,
                           details={"from": from_state, "to": to_state, "reason": reason, **extra, **(details or {})})
        workflow.sync_open_stages(locked)
        if to_state == ChangeState.APPROVED:
            run_approval_hooks(change=locked, actor=resolved)
    return locked


# --- manual lifecycle moves ------------------------------------------------------------------

def _moves_by_person(change: ChangeRequest, user: Any) -> set[str]:
    """Which manual targets `user` may ask for at all: the requester and implementer carry the
    change through; a release manager plans and administers it (schedule, cancel, close)."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "kind", "human") == "system":
        return set()
    if user.pk in (change.requester_id, change.implementer_id):
        return set(MANUAL_ORDER)
    if not user.is_service_account and user.has_role("release_manager"):
        return set(RELEASE_MANAGER_MOVES)
    return set()


def change_moves_for(*, change: ChangeRequest, user: Any) -> list[str]:
    """The lifecycle moves `user` may make on `change` now: what the Lifecycle panel offers and
    what change_move accepts. Person, table of manual moves and the transition guards, in one place."""
    allowed = _moves_by_person(change, user) & MANUAL_MOVES.get(change.state, set())
    return [target for target in MANUAL_ORDER if target in allowed and transition_refusal(change, target) is None]


def change_move(*, change: ChangeRequest, to_state: str, actor: Any, reason: str = "") -> ChangeRequest:
    """A person moves a change along its lifecycle by hand (Lifecycle panel, POST /transition/).

    400 for an unknown or approval state, 403 when the person may not make this move, 409 when the
    state does not allow it now (with the guard's code); otherwise change_transition."""
    resolved = resolve_actor(actor)
    if to_state not in ChangeState.values:
        raise InvalidInput(f"Unknown state '{to_state}'.", fields={"to_state": ["Unknown state."]})
    if to_state in DECISION_STATES:
        raise InvalidInput("Approval and review states are reached through approvals and submit.",
                           code="invalid_transition", fields={"to_state": ["Use approvals or submit."]})
    mine = _moves_by_person(change, resolved.user)
    if not mine:
        raise NotAllowed("You may not move this change: only its requester, its implementer or a release "
                         "manager may.", code="permission_denied", fields={"to_state": ["Not yours to move."]})
    if to_state not in MANUAL_MOVES.get(change.state, set()):
        raise Conflict(f"A change in state '{change.state}' cannot be moved to '{to_state}' by hand.",
                       code="invalid_transition", fields={"to_state": [f"{change.state} → {to_state} is not offered"]})
    if to_state not in mine:
        raise NotAllowed(f"A release manager may only {', '.join(sorted(RELEASE_MANAGER_MOVES))} someone else's "
                         "change.", code="permission_denied", fields={"to_state": ["Not yours to make."]})
    return change_transition(change=change, to_state=to_state, actor=resolved, reason=reason)


# --- create, edit, submit --------------------------------------------------------------------

def _validate_plan(*, change_type, service, environment, planned_start, planned_end, standard_template) -> None:
    errors: dict[str, list[str]] = {}
    if not change_type.is_active:
        errors["change_type"] = ["This change type is retired."]
    if service is not None and not service.is_active:
        errors["service"] = ["This service is inactive."]
    if (planned_start is None) != (planned_end is None):
        errors["planned_end" if planned_start else "planned_start"] = ["Give both the start and the end, or neither."]
    if planned_start and planned_end and planned_end <= planned_start:
        errors["planned_end"] = ["The end must be after the start."]
    if change_type.is_pre_approved:
        if standard_template is None:
            errors["standard_template"] = ["A standard change is filed from an approved standard change template."]
        elif standard_template.state != "approved":
            errors["standard_template"] = [f"Template “{standard_template}” is {standard_template.state}, not approved."]
        elif standard_template.service_id and service is not None and standard_template.service_id != service.pk:
            errors["standard_template"] = [f"Template “{standard_template}” is for another service."]
    if errors:
        raise InvalidInput("The change request is not valid: " + "; ".join(
            f"{k}: {v[0]}" for k, v in errors.items()), code="invalid", fields=errors)


def _assess(change: ChangeRequest) -> None:
    change.risk_answers = risk.clean_answers(change.risk_answers)
    change.risk_score, change.risk_level, change.risk_breakdown = risk.assess(answers=change.risk_answers,
                                                                              service=change.service)
    change.cab_required = change.change_type.needs_cab(change.risk_level)


def change_create(*, actor: Any, title: str, change_type, service, environment, description: str = "",
                  planned_start: datetime | None = None, planned_end: datetime | None = None,
                  rollout_strategy: str = "rolling", rollback_plan: str = "", rollback_criteria: dict | None = None,
                  compliance_scopes: list | None = None, risk_answers: dict | None = None, implementer=None,
                  standard_template=None) -> ChangeRequest:
    resolved = resolve_actor(actor)
    if not (title or "").strip():
        raise InvalidInput("A change request needs a title.", fields={"title": ["This field is required."]})
    _validate_plan(change_type=change_type, service=service, environment=environment, planned_start=planned_start,
                   planned_end=planned_end, standard_template=standard_template)
    if implementer is not None and getattr(implementer, "kind", "human") == "system":
        raise InvalidInput("The implementer must be a person or a service account.", fields={"implementer": ["Invalid."]})
    with transaction.atomic():
        change = ChangeRequest(
            title=title.strip(), description=description, change_type=change_type, service=service,
            environment=environment, requester=resolved.user, implementer=implementer, planned_start=planned_start,
            planned_end=planned_end, rollout_strategy=rollout_strategy, rollback_plan=rollback_plan,
            rollback_criteria=rollback_criteria or {},
            compliance_scopes=compliance_scopes if compliance_scopes is not None else list(service.compliance_scopes),
            risk_answers=risk_answers or {}, standard_template=standard_template)
        if standard_template is not None:
            change.description = change.description or standard_template.description
            change.rollback_plan = change.rollback_plan or standard_template.rollback_plan
        _assess(change)
        change.content_hash = workflow.content_hash(change)
        change._history_user = resolved.user
        change.save()
        change.number = ChangeRequest.format_number(change.pk)
        ChangeRequest.objects.filter(pk=change.pk).update(number=change.number)
        audit_event_record(action="change.created", target=change, actor=resolved,
                           details={"number": change.number, "change_type": change_type.slug, "service": service.slug,
                                    "environment": environment.slug, "risk_level": change.risk_level,
                                    "risk_score": change.risk_score})
    return change


def editable_in_state(change: ChangeRequest) -> frozenset[str]:
    """What the change's state still lets anyone edit: everything until work starts; after an
    emergency change started without its rollback plan, only the rollback plan and criteria."""
    if change.state in EDITABLE_STATES:
        return EDITABLE_FIELDS
    if change.change_type.is_emergency and change.state in STARTED_STATES:
        return ROLLBACK_FIELDS
    return frozenset()


def _production_needs_rollback(change: ChangeRequest) -> None:
    """A production change goes to review only with its rollback plan and criteria (an emergency
    change may start without them; it cannot close without them: transition_refusal)."""
    if not change.environment.is_production or change.change_type.is_emergency:
        return
    missing = missing_rollback(change)
    if missing:
        raise InvalidInput("A production change needs a rollback plan and rollback criteria before review: "
                           f"{', '.join(missing)} missing.", code="rollback_plan_required", fields=missing)


def change_update(*, change: ChangeRequest, actor: Any, **fields: Any) -> ChangeRequest:
    """Edit a change, as permissions.edit_scope lets the actor (requester and implementer: every
    editable field; a release manager: the schedule). Editing what approvers approved (plan,
    schedule, service, risk) voids their approvals and returns the change to review, with the
    reason recorded on it. Returns the locked, updated instance."""
    resolved = resolve_actor(actor)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"These fields cannot be edited: {', '.join(sorted(unknown))}.",
                           fields={k: ["Not editable."] for k in unknown})
    with transaction.atomic():
        locked = (ChangeRequest.objects.select_for_update(of=("self",))
                  .select_related("change_type", "service", "environment", "standard_template").get(pk=change.pk))
        scope = edit_scope(resolved.user, locked)
        if not scope:
            raise NotAllowed("You may not edit this change: only its requester and implementer may (a release "
                             "manager: its schedule).", code="permission_denied")
        outside = set(fields) - scope
        if outside:
            raise NotAllowed(f"You may change only {' and '.join(sorted(scope))} of this change.",
                             code="permission_denied", fields={k: ["Not yours to change."] for k in sorted(outside)})
        in_state = editable_in_state(locked)
        if not in_state or set(fields) - in_state:
            raise Conflict(f"A change in state '{locked.state}' can no longer be edited"
                           + (f" except its {' and '.join(sorted(in_state))}." if in_state else "."),
                           code="not_editable", fields={k: ["No longer editable."] for k in sorted(set(fields) - in_state)})
        before = workflow.content_snapshot(locked)
        old_hash = locked.content_hash
        old_implementer_id = locked.implementer_id
        for name, value in fields.items():
            setattr(locked, name, value)
        if locked.implementer_id and locked.implementer_id != old_implementer_id:
            _refuse_an_approver_as_implementer(locked)
        _validate_plan(change_type=locked.change_type, service=locked.service, environment=locked.environment,
                       planned_start=locked.planned_start, planned_end=locked.planned_end,
                       standard_template=locked.standard_template)
        if locked.state != ChangeState.DRAFT:
            _production_needs_rollback(locked)
        _assess(locked)
        locked.content_hash = workflow.content_hash(locked)
        changed = workflow.content_fields_changed(before, locked)
        rescheduled = {"planned_start", "planned_end"} & set(changed)
        if rescheduled and locked.state != ChangeState.DRAFT:
            freeze = blocking_freeze(locked)
            if freeze:
                raise Conflict(freeze["message"], code="freeze_active", fields={"planned_start": [freeze["message"]]})
        locked._history_user = resolved.user
        voided = 0
        if locked.content_hash != old_hash and locked.state != ChangeState.DRAFT:
            labels = ", ".join(name.removesuffix("_id") for name in changed)
            reason = f"Edited by {resolved.label} after review began ({labels} changed): earlier approvals are void."
            voided = _void_live_approvals(locked, actor=resolved, reason=reason)
            if voided or locked.state != ChangeState.IN_REVIEW:
                locked.review_reason = reason[:300]
        locked._change_reason = "edited"
        locked.save()
        # The queue reads implementer, service, risk and schedule from the open stages' copies.
        OpenStage.objects.filter(change=locked).update(**workflow.open_stage_copies(locked))
        audit_event_record(action="change.edited", target=locked, actor=resolved,
                           details={"fields": sorted(fields), "content_changed": changed, "approvals_voided": voided,
                                    "conflicts": [c["code"] for c in change_conflicts(locked)] if rescheduled else []})
        if locked.content_hash != old_hash and locked.state in (ChangeState.APPROVED, ChangeState.SCHEDULED):
            locked = change_transition(change=locked, to_state=ChangeState.IN_REVIEW, actor=resolved,
                                       reason="Content edited after approval", details={"review_reason": locked.review_reason})
        elif locked.content_hash != old_hash and workflow.accepts_decisions(locked):
            _reopen_stages(locked)
    return locked


def _refuse_an_approver_as_implementer(change: ChangeRequest) -> None:
    """Segregation of duties holds in both directions: whoever approved the change (or had a
    delegate approve for them) cannot become its implementer while that decision stands."""
    live = change.approvals.filter(voided_at__isnull=True)
    if live.filter(Q(approver_id=change.implementer_id) | Q(on_behalf_of_id=change.implementer_id)).exists():
        message = (f"{change.implementer.username} has a decision on this change and cannot implement it "
                   "(segregation of duties): choose someone else.")
        raise Conflict(message, code="segregation_of_duties", fields={"implementer": [message]})


def _reopen_stages(change: ChangeRequest) -> None:
    """After voiding, stages reopen from the first one; SLA clocks restart."""
    OpenStage.objects.filter(change=change).delete()
    workflow.sync_open_stages(change)


def change_submit(*, change: ChangeRequest, actor: Any) -> ChangeRequest:
    """Draft → in review (approvers are told), or → scheduled for a pre-approved standard change.
    A freeze over the planned slot refuses all but emergency changes."""
    resolved = resolve_actor(actor)
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update(of=("self",)).select_related(
            "change_type", "service", "environment", "standard_template").get(pk=change.pk)
        if not may_submit(resolved.user, locked):
            raise NotAllowed("Only the change's requester or implementer may submit it.", code="permission_denied")
        if locked.state != ChangeState.DRAFT:
            raise Conflict(f"Only a draft can be submitted; this change is {locked.state}.", code="invalid_transition")
        _production_needs_rollback(locked)
        if locked.change_type.is_pre_approved and (locked.planned_start is None or locked.planned_end is None):
            raise InvalidInput("A standard change needs its planned start and end before it is scheduled.",
                               fields={"planned_start": ["Required for a standard change."]})
        freeze = blocking_freeze(locked)
        if freeze:
            raise Conflict(freeze["message"], code="freeze_active", fields={"planned_start": [freeze["message"]]})
        conflicts = [c["code"] for c in change_conflicts(locked)]
        if locked.change_type.is_pre_approved:
            template = locked.standard_template
            if template is None or template.state != "approved":
                raise Conflict("The standard change template is no longer approved.", code="template_not_approved")
            locked = change_transition(change=locked, to_state=ChangeState.SCHEDULED, actor=resolved,
                                       reason=f"Pre-approved standard change ({template})",
                                       details={"template": template.slug, "template_version": template.version,
                                                "conflicts": conflicts})
        else:
            locked = change_transition(change=locked, to_state=ChangeState.IN_REVIEW, actor=resolved,
                                       reason="Submitted for review", details={"conflicts": conflicts})
            result = workflow.evaluate(locked)
            if result.status == workflow.OVERALL_NOT_REQUIRED:
                locked = change_transition(change=locked, to_state=ChangeState.APPROVED, actor=resolved,
                                           reason="No approval stage applies")
            else:
                change_id = locked.pk
                transaction.on_commit(lambda: _enqueue("notify_approvers_new_request", change_id))
                notifications.chat_approval_requested(locked)
    return locked


def _enqueue(task_name: str, *args: Any) -> None:
    from . import tasks

    getattr(tasks, task_name).delay(*args)


# --- approvals -------------------------------------------------------------------------------

def approval_target(*, change: ChangeRequest, user) -> tuple[workflow.StageResult, Any]:
    """The open stage `user` decides in, and on whose behalf (None: their own right).

    Raises the refusal a decision by `user` would get, in the order API.md documents. Segregation
    of duties (sod.approval_conflict) is asked for the user and for every delegator they would act for."""
    live = workflow.live_approvals(change)
    parties = sod.change_parties(change)
    conflict = sod.approval_conflict(change=change, user=user, live=live, parties=parties)
    if conflict is not None:
        raise conflict.error()
    if not workflow.accepts_decisions(change):
        raise Conflict(f"This change is {change.state}; it is not waiting for approvals.", code="not_in_review")
    result = workflow.evaluate(change, live)
    from .selectors import active_delegator_ids

    delegators = None
    roles = None
    delegate_refusal: PortalError | None = None
    waiting_match = False
    for stage_result in result.stages:
        stage = stage_result.stage
        if workflow.user_in_stage(user, stage, change):
            if stage_result.status == workflow.STAGE_OPEN:
                return stage_result, None
            waiting_match = waiting_match or stage_result.status == workflow.STAGE_WAITING
            continue
        if delegators is None:
            from apps.accounts.models import User

            delegators = list(User.objects.filter(pk__in=active_delegator_ids(user)))
            roles = sod.deciding_roles() if delegators else set()
        for delegator in delegators:
            if not workflow.user_in_stage(delegator, stage, change):
                continue
            conflict = sod.approval_conflict(change=change, user=user, on_behalf_of=delegator, live=live,
                                             parties=parties)
            if conflict is not None:
                delegate_refusal = delegate_refusal or conflict.error()
                continue
            refusal = sod.may_act_for(delegate=user, delegator=delegator, change=change, roles=roles)
            if refusal is not None:
                delegate_refusal = delegate_refusal or NotAllowed(refusal, code="delegate_not_eligible")
                continue
            if stage_result.status == workflow.STAGE_OPEN:
                return stage_result, delegator
            waiting_match = waiting_match or stage_result.status == workflow.STAGE_WAITING
    if waiting_match:
        raise Conflict("Your stage is not open yet: earlier stages must approve first.", code="stage_not_open")
    if delegate_refusal is not None:
        raise delegate_refusal
    raise NotAllowed("You are not an approver in any open stage of this change.", code="not_an_approver")


def _privilege_refusal(change: ChangeRequest, user) -> PortalError | None:
    from apps.catalog.privileges import holds_privilege

    if change.environment.is_production and not holds_privilege(user, "approver", change.service,
                                                                 change.environment):
        return NotAllowed(f"Approving production changes to {change.service} needs the approver privilege "
                          "(granted through an access review).", code="approver_privilege_required")
    return None


def _approve_refusal(change: ChangeRequest) -> PortalError | None:
    """What refuses an approval (not a rejection) of a change someone may otherwise decide: a freeze
    over its planned slot (not for an emergency change), an open question to its requester."""
    from .information import open_information_request

    if not change.change_type.is_emergency:
        freeze = blocking_freeze(change)
        if freeze:
            return Conflict(freeze["message"], code="freeze_active")
    question = open_information_request(change)
    if question is not None:
        return Conflict(f"{change.number} waits for its requester's answer to “{question.question[:80]}”: it can "
                        "be approved once they answer.", code="information_requested")
    return None


def decision_refusals(*, change: ChangeRequest, user) -> tuple[dict[str, PortalError | None], tuple | None]:
    """Why `user` may not approve / reject `change` now ({"approve": refusal or None, "reject": …}),
    and the (stage result, on whose behalf) a decision would go to. The one check behind every
    decision: approval_record, the change page's buttons, the queue's row buttons and bulk approval
    (the queue's SQL listing, selectors.DecisionScope, is proven to agree with it)."""
    try:
        target = approval_target(change=change, user=user)
    except PortalError as exc:
        return {Approval.Decision.APPROVE: exc, Approval.Decision.REJECT: exc}, None
    refusal = _privilege_refusal(change, user)
    if refusal is not None:
        return {Approval.Decision.APPROVE: refusal, Approval.Decision.REJECT: refusal}, None
    return {Approval.Decision.APPROVE: _approve_refusal(change), Approval.Decision.REJECT: None}, target


def approval_record(*, change: ChangeRequest, approver, decision: str, comment: str = "",
                    cab_meeting=None, stage_result: workflow.StageResult | None = None) -> Approval:
    """Record one decision. The change row is locked first, so simultaneous decisions are
    counted one after the other and each state transition fires once."""
    if decision not in Approval.Decision.values:
        raise InvalidInput("decision must be 'approve' or 'reject'.", fields={"decision": ["approve or reject"]})
    if decision == Approval.Decision.REJECT and not (comment or "").strip():
        raise InvalidInput("Say why you reject the change.", fields={"comment": ["A rejection needs a comment."]})
    with atomic_as(approver):
        locked = (ChangeRequest.objects.select_for_update(of=("self",))
                  .select_related("change_type", "service", "environment").get(pk=change.pk))
        if stage_result is None:
            refusals, target = decision_refusals(change=locked, user=approver)
            if refusals[decision] is not None:
                raise refusals[decision]
            stage_result, on_behalf_of = target
        else:
            # A stage settled elsewhere (a CAB meeting): the same segregation of duties, on the locked row.
            sod.approval_require_separate_duties(change=locked, user=approver)
            on_behalf_of = None
            refusal = _privilege_refusal(locked, approver) or (
                _approve_refusal(locked) if decision == Approval.Decision.APPROVE else None)
            if refusal is not None:
                raise refusal
        try:
            with transaction.atomic():
                approval = Approval.objects.create(
                    change=locked, stage=stage_result.stage, stage_name=stage_result.stage.name, approver=approver,
                    on_behalf_of=on_behalf_of, decision=decision, comment=comment.strip(),
                    content_hash=locked.content_hash, cab_meeting=cab_meeting)
        except IntegrityError as exc:
            raise Conflict("You have already decided on this change.", code="already_decided") from exc
        audit_event_record(action=f"change.approval.{decision}", target=locked, actor=approver,
                           details={"stage": stage_result.stage.name, "decision": decision, "comment": comment,
                                    "on_behalf_of": on_behalf_of.username if on_behalf_of else None,
                                    "content_hash": locked.content_hash,
                                    "cab_meeting": cab_meeting.pk if cab_meeting else None,
                                    "conflicts": [c["code"] for c in change_conflicts(locked)]})
        result = workflow.evaluate(locked)
        if result.status == workflow.OVERALL_REJECTED and locked.state == ChangeState.IN_REVIEW:
            locked = change_transition(change=locked, to_state=ChangeState.REJECTED, actor=approver,
                                       reason=f"Rejected in {stage_result.stage.name}")
        elif result.status == workflow.OVERALL_APPROVED and locked.state == ChangeState.IN_REVIEW:
            locked = change_transition(change=locked, to_state=ChangeState.APPROVED, actor=approver,
                                       reason=f"Approved ({stage_result.stage.name} was the last stage)")
        elif result.status == workflow.OVERALL_APPROVED and locked.change_type.is_emergency:
            _retro_approve(locked, approver)
        else:
            workflow.sync_open_stages(locked, result)
        if decision == Approval.Decision.APPROVE:
            from apps.catalog.signals import privilege_exercised

            service, environment, at = locked.service, locked.environment, approval.decided_at
            transaction.on_commit(lambda: privilege_exercised.send(
                sender=Approval, user=approver, privilege="approver", service=service, environment=environment, at=at))
        approval_id = approval.pk
        transaction.on_commit(lambda: _enqueue("notify_requester_decision", approval_id))
        # The caller reads the change as the decision left it from the approval.
        approval.change = locked
    return approval


def _retro_approve(change: ChangeRequest, actor) -> None:
    now = timezone.now()
    for override in change.emergency_overrides.filter(revoked_at__isnull=True, retro_approved_at__isnull=True):
        override.retro_approved_at = now
        override._history_user = actor
        override.save()
    if change.approved_at is None:
        change.approved_at = now
        change.save(update_fields=["approved_at", "updated_at"])
    audit_event_record(action="change.emergency.retro_approved", target=change, actor=actor,
                       details={"unauthorised": change.is_unauthorised})
    workflow.sync_open_stages(change)
    run_approval_hooks(change=change, actor=actor)


# --- emergency changes -----------------------------------------------------------------------

MAX_OVERRIDE_HOURS = 72


def override_hours_clean(hours: Any) -> int | None:
    """How long an override lasts, as asked by the page or the API: blank for the change type's
    default, else a whole number of hours from 1 to MAX_OVERRIDE_HOURS. The one check for both."""
    if hours is None or (isinstance(hours, str) and not hours.strip()):
        return None
    if isinstance(hours, bool):
        hours = None
    elif isinstance(hours, str):
        text = hours.strip()
        hours = int(text) if re.fullmatch(r"[0-9]{1,6}", text) else None
    elif not isinstance(hours, int):
        hours = None
    if hours is None or not 1 <= hours <= MAX_OVERRIDE_HOURS:
        message = f"An override lasts a whole number of hours from 1 to {MAX_OVERRIDE_HOURS}."
        raise InvalidInput(message, fields={"hours": [message]})
    return hours


def emergency_override_grant(*, change: ChangeRequest, actor: Any, reason: str, hours: int | str | None = None,
                             start_implementation: bool = True) -> EmergencyOverride:
    """A release manager authorises an emergency change now, for a limited time (the type's
    default, 24 h, or `hours`, at most MAX_OVERRIDE_HOURS). `override.change` is the locked change
    as the override left it."""
    resolved = resolve_actor(actor)
    user = resolved.user
    if not (reason or "").strip():
        raise InvalidInput("Say why the emergency cannot wait.", fields={"reason": ["Required."]})
    hours = override_hours_clean(hours)
    with atomic_as(resolved):
        locked = ChangeRequest.objects.select_for_update(of=("self",)).select_related("change_type").get(pk=change.pk)
        if not locked.change_type.is_emergency:
            raise Conflict("Only emergency changes can be implemented on an override.", code="not_emergency")
        if not user.has_role("release_manager") or user.is_service_account:
            raise NotAllowed("Only a release manager may authorise an emergency change.", code="not_release_manager")
        if user.pk in (locked.requester_id, locked.implementer_id):
            raise NotAllowed("You cannot authorise your own emergency change.", code="self_approval_forbidden")
        if locked.state != ChangeState.IN_REVIEW:
            raise Conflict("Submit the emergency change before authorising it.", code="invalid_transition")
        if locked.emergency_overrides.filter(revoked_at__isnull=True).exists():
            raise Conflict("This change already has an override.", code="override_exists")
        now = timezone.now()
        hours = hours or locked.change_type.override_hours or 24
        override = EmergencyOverride(change=locked, authorised_by=user, reason=reason.strip(), authorised_at=now,
                                     expires_at=now + timedelta(hours=hours))
        override._history_user = user
        override.save()
        locked.post_mortem_due_at = now + timedelta(days=locked.change_type.post_mortem_days or 5)
        locked._history_user = user
        locked._change_reason = "Emergency override granted"
        locked.save(update_fields=["post_mortem_due_at", "updated_at"])
        audit_event_record(action="change.emergency.override_granted", target=locked, actor=resolved,
                           details={"expires_at": override.expires_at, "reason": reason,
                                    "post_mortem_due_at": locked.post_mortem_due_at})
        if start_implementation:
            locked = change_transition(change=locked, to_state=ChangeState.IMPLEMENTING, actor=resolved,
                                       reason="Emergency override", details={"override": override.pk})
        override.change = locked
    return override


def emergency_overrides_flag_expired(*, actor: Any, at: datetime | None = None) -> int:
    """Overrides past their expiry without retrospective CAB approval: the change is unauthorised."""
    resolved = resolve_actor(actor)
    at = at or timezone.now()
    flagged = 0
    expired = EmergencyOverride.objects.filter(expires_at__lte=at, retro_approved_at__isnull=True,
                                               unauthorised_at__isnull=True, revoked_at__isnull=True)
    for override_id in expired.values_list("pk", flat=True):
        with atomic_as(resolved):
            override = EmergencyOverride.objects.select_for_update(of=("self",)).select_related("change").get(pk=override_id)
            if override.unauthorised_at or override.retro_approved_at:
                continue
            override.unauthorised_at = at
            override.save()
            change = override.change
            change.is_unauthorised = True
            change._change_reason = "Override expired without CAB approval"
            change.save()
            audit_event_record(action="change.emergency.unauthorised", target=change, actor=resolved,
                               details={"override": override.pk, "expired_at": override.expires_at})
            flagged += 1
    return flagged


def post_mortem_record(*, change: ChangeRequest, actor: Any, text: str) -> ChangeRequest:
    resolved = resolve_actor(actor)
    if not (text or "").strip():
        raise InvalidInput("The post-mortem cannot be empty.", fields={"post_mortem": ["Required."]})
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update(of=("self",)).get(pk=change.pk)
        if not can_record_post_mortem(resolved.user, locked):
            raise NotAllowed("Only the change's requester, implementer or a release manager may record its "
                             "post-mortem.", code="permission_denied")
        locked.post_mortem = text.strip()
        locked.post_mortem_at = timezone.now()
        locked._history_user = resolved.user
        locked._change_reason = "post-mortem recorded"
        locked.save()
        audit_event_record(action="change.post_mortem_recorded", target=locked, actor=resolved,
                           details={"late": bool(locked.post_mortem_due_at and locked.post_mortem_at > locked.post_mortem_due_at)})
    return locked


# --- delegation ------------------------------------------------------------------------------

def delegation_create(*, delegator, delegate, ends_at: datetime, actor: Any, starts_at: datetime | None = None,
                      reason: str = "") -> Delegation:
    resolved = resolve_actor(actor)
    starts_at = starts_at or timezone.now()
    # Only to someone who could hold the authority handed over (sod.delegate_refusal): never an
    # auditor, executive, plain requester, administrator account or pipeline.
    sod.delegate_require_eligible(delegator=delegator, delegate=delegate)
    if ends_at <= starts_at:
        raise InvalidInput("The delegation must end after it starts.", fields={"ends_at": ["Must be after the start."]})
    if ends_at - starts_at > timedelta(days=90):
        raise InvalidInput("A delegation lasts at most 90 days.", fields={"ends_at": ["At most 90 days."]})
    with transaction.atomic():
        delegation = Delegation(delegator=delegator, delegate=delegate, starts_at=starts_at, ends_at=ends_at,
                                reason=reason)
        delegation._history_user = resolved.user
        delegation.save()
        audit_event_record(action="change.delegation.created", target=delegation, actor=resolved,
                           details={"delegator": delegator.username, "delegate": delegate.username,
                                    "starts_at": starts_at, "ends_at": ends_at})
    return delegation


def delegation_revoke(*, delegation: Delegation, actor: Any) -> Delegation:
    resolved = resolve_actor(actor)
    with transaction.atomic():
        delegation.revoked_at = timezone.now()
        delegation._history_user = resolved.user
        delegation.save()
        audit_event_record(action="change.delegation.revoked", target=delegation, actor=resolved, details={})
    return delegation


# --- schedule ----------------------------------------------------------------------------------

def maintenance_window_create(*, actor: Any, name: str, starts_at: datetime, duration_minutes: int, rrule: str = "",
                              service=None, environment=None, notice_amount: int | None = None,
                              notice_unit: str = "business_days", max_change_minutes: int | None = None,
                              review_on=None) -> MaintenanceWindow:
    from .schedule import parse_rrule
    from .schedule_services import window_sla_clean

    resolved = resolve_actor(actor)
    rrule = (rrule or "").strip()
    if rrule:
        try:
            parse_rrule(rrule, starts_at)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"The recurrence rule is not valid: {exc}", fields={"rrule": [str(exc)]}) from exc
    if duration_minutes <= 0:
        raise InvalidInput("The window must last at least a minute.", fields={"duration_minutes": ["Must be positive."]})
    window_sla_clean(notice_amount=notice_amount, notice_unit=notice_unit, max_change_minutes=max_change_minutes,
                     review_on=review_on)
    with transaction.atomic():
        window = MaintenanceWindow(name=name, starts_at=starts_at, duration_minutes=duration_minutes, rrule=rrule,
                                   service=service, environment=environment, notice_amount=notice_amount,
                                   notice_unit=notice_unit, max_change_minutes=max_change_minutes,
                                   review_on=review_on)
        window._history_user = resolved.user
        window.save()
        audit_event_record(action="change.window.created", target=window, actor=resolved,
                           details={"rrule": rrule, "service": getattr(service, "slug", None),
                                    "environment": getattr(environment, "slug", None),
                                    "sla": {"notice": notice_amount, "notice_unit": notice_unit,
                                            "max_change_minutes": max_change_minutes,
                                            "review_on": review_on.isoformat() if review_on else None}})
    return window


def freeze_create(*, actor: Any, name: str, reason: str, starts_at: datetime, ends_at: datetime, service=None,
                  environment=None, team=None) -> Freeze:
    resolved = resolve_actor(actor)
    if not (reason or "").strip():
        raise InvalidInput("A freeze needs a reason.", fields={"reason": ["Required."]})
    if ends_at <= starts_at:
        raise InvalidInput("The freeze must end after it starts.", fields={"ends_at": ["Must be after the start."]})
    with transaction.atomic():
        freeze = Freeze(name=name, reason=reason.strip(), starts_at=starts_at, ends_at=ends_at, service=service,
                        environment=environment, team=team, created_by=resolved.user)
        freeze._history_user = resolved.user
        freeze.save()
        audit_event_record(action="change.freeze.created", target=freeze, actor=resolved,
                           details={"reason": reason, "scope": freeze.scope_label, "starts_at": starts_at,
                                    "ends_at": ends_at})
    return freeze


def calendar_feed_rotate(*, user, actor: Any) -> str:
    """A new secret feed URL for `user` (the old one stops working). Returns the secret, shown once."""
    import hashlib
    import secrets

    from .models import CalendarFeed

    resolved = resolve_actor(actor)
    secret = secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with transaction.atomic():
        CalendarFeed.objects.update_or_create(user=user, defaults={"secret_hash": digest, "created_at": timezone.now(),
                                                                   "last_used_at": None})
        audit_event_record(action="change.calendar_feed.rotated", target=user, actor=resolved, details={})
    return secret


def calendar_feed_revoke(*, user, actor: Any) -> bool:
    from .models import CalendarFeed

    resolved = resolve_actor(actor)
    with transaction.atomic():
        deleted, _ = CalendarFeed.objects.filter(user=user).delete()
        if deleted:
            audit_event_record(action="change.calendar_feed.revoked", target=user, actor=resolved, details={})
    return bool(deleted)
