"""Compliance checkpoints: what a change in a compliance scope (SOX, HIPAA, PCI…) must show before
it is scheduled, and a release before it starts shipping.

A change is in the scopes it names plus its service's. For each checkpoint of those scopes it is
- `met` when every required approval stage has a live approving decision on the change and every
  required evidence kind is attached to an artifact the change used (one its deployments or
  gate decisions name);
- `waived` when someone holding the scope's waiver role waived it for the change (audited);
- `open` otherwise, with what is missing.
A release's checkpoint is open while any of its changes has it open.

The guard `releases.checkpoints` (apps.changes.transition_guards) refuses the move to scheduled
with 409 `checkpoint_unmet`; release_transition refuses `in_progress` the same way. Reading the
status of any number of changes costs five queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.accounts.roles import ROLES
from apps.catalog.models import COMPLIANCE_SCOPE_KEYS
from apps.changes.models import Approval
from apps.delivery.models import Deployment, Evidence, GateDecision
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

OPEN, MET, WAIVED = "open", "met", "waived"


@dataclass
class CheckpointStatus:
    checkpoint: Any
    status: str
    evidence: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    waiver: Any = None


def scopes_of(change) -> set[str]:
    return set(change.compliance_scopes or []) | set(change.service.compliance_scopes or [])


def status_for_changes(changes: list) -> dict[int, list[CheckpointStatus]]:
    """change id -> the status of every checkpoint that applies to it (changes need their service)."""
    from .models import CheckpointWaiver, ComplianceCheckpoint

    wanted = set().union(*(scopes_of(c) for c in changes)) if changes else set()
    if not wanted:
        return {c.pk: [] for c in changes}
    checkpoints = list(ComplianceCheckpoint.objects.filter(scope__key__in=wanted).select_related("scope")
                       .order_by("scope__key", "name"))
    if not checkpoints:
        return {c.pk: [] for c in changes}
    ids = [c.pk for c in changes]
    approved: dict[int, set[str]] = {}
    for change_id, stage_name in Approval.objects.filter(change_id__in=ids, voided_at__isnull=True,
                                                         decision=Approval.Decision.APPROVE).values_list(
            "change_id", "stage_name"):
        approved.setdefault(change_id, set()).add(stage_name)
    artifacts: dict[int, set[int]] = {}
    used = (Deployment.objects.filter(change_id__in=ids, artifact__isnull=False).order_by()
            .values_list("change_id", "artifact_id")
            .union(GateDecision.objects.filter(change_id__in=ids, artifact__isnull=False).order_by()
                   .values_list("change_id", "artifact_id")))
    for change_id, artifact_id in used:
        artifacts.setdefault(change_id, set()).add(artifact_id)
    kinds: dict[int, set[str]] = {}
    all_artifacts = set().union(*artifacts.values()) if artifacts else set()
    if all_artifacts:
        for artifact_id, kind in Evidence.objects.filter(artifact_id__in=all_artifacts).values_list("artifact_id",
                                                                                                    "kind").distinct():
            kinds.setdefault(artifact_id, set()).add(kind)
    waivers = {(w.checkpoint_id, w.change_id): w for w in CheckpointWaiver.objects.filter(
        change_id__in=ids, checkpoint__in=checkpoints).select_related("waived_by")}
    result: dict[int, list[CheckpointStatus]] = {}
    for change in changes:
        scopes = scopes_of(change)
        have_kinds = set().union(*(kinds.get(a, set()) for a in artifacts.get(change.pk, set())))
        have_stages = approved.get(change.pk, set())
        rows = []
        for checkpoint in checkpoints:
            if checkpoint.scope.key not in scopes:
                continue
            missing = ([f"evidence {k}" for k in checkpoint.required_evidence_kinds if k not in have_kinds]
                       + [f"approval {s}" for s in checkpoint.required_approval_stages if s not in have_stages])
            evidence = ([f"{change.number}: evidence {k}" for k in checkpoint.required_evidence_kinds if k in have_kinds]
                        + [f"{change.number}: approval {s}" for s in checkpoint.required_approval_stages
                           if s in have_stages])
            waiver = waivers.get((checkpoint.pk, change.pk))
            status = MET if not missing else WAIVED if waiver else OPEN
            if waiver is not None and missing:
                evidence.append(f"{change.number}: waived by {waiver.waived_by.username}: {waiver.reason}")
            rows.append(CheckpointStatus(checkpoint, status, evidence, missing, waiver))
        result[change.pk] = rows
    return result


def release_checkpoints(changes: list) -> list[dict]:
    """A release's checkpoints over its changes: [{"name", "scope", "status", "evidence", "missing",
    "control"}]: open while any change has it open, else waived if any waived it, else met."""
    statuses = status_for_changes(changes)
    rank = {MET: 0, WAIVED: 1, OPEN: 2}
    merged: dict[int, dict] = {}
    for change in changes:
        for row in statuses[change.pk]:
            entry = merged.setdefault(row.checkpoint.pk, {
                "name": row.checkpoint.name, "scope": row.checkpoint.scope.key, "status": MET, "evidence": [],
                "missing": [], "control": row.checkpoint.control})
            entry["evidence"].extend(row.evidence)
            if row.status == OPEN:
                entry["missing"].extend(f"{change.number}: {m}" for m in row.missing)
            if rank[row.status] > rank[entry["status"]]:
                entry["status"] = row.status
    return sorted(merged.values(), key=lambda e: (e["scope"], e["name"]))


def refusal_for_change(change, to_state: str):
    """The guard `releases.checkpoints`."""
    open_rows = [r for r in status_for_changes([change])[change.pk] if r.status == OPEN]
    if not open_rows:
        return None
    names = "; ".join(f"{r.checkpoint.scope.name} {r.checkpoint.name} (missing {', '.join(r.missing)})"
                      for r in open_rows)
    message = f"{change.number or 'This change'} cannot be scheduled before its compliance checkpoints: {names}."
    return Conflict(message, code="checkpoint_unmet", fields={"checkpoints": [names]})


# --- writes -----------------------------------------------------------------------------------

def compliance_scope_define(*, key: str, name: str, retention_days: int, waiver_role: str, checkpoints: list[dict],
                            actor: Any):
    """Create or replace a scope and its checkpoints (by name; checkpoints not named are removed
    unless waived somewhere, which keeps the waiver's record)."""
    from apps.audit.history import atomic_as
    from apps.audit.services import audit_event_record

    from .models import ComplianceCheckpoint, ComplianceScope

    if key not in COMPLIANCE_SCOPE_KEYS:
        raise InvalidInput("Unknown compliance scope.", fields={"key": [f"One of {', '.join(COMPLIANCE_SCOPE_KEYS)}."]})
    if waiver_role not in ROLES:
        raise InvalidInput("Unknown role.", fields={"waiver_role": [f"One of {', '.join(ROLES)}."]})
    kinds = set(Evidence.Kind.values)
    names = set()
    for cp in checkpoints:
        if not str(cp.get("name", "")).strip() or cp["name"] in names:
            raise InvalidInput("Each checkpoint needs a distinct name.", fields={"checkpoints": ["Name them."]})
        names.add(cp["name"])
        unknown = [k for k in cp.get("required_evidence_kinds", []) if k not in kinds]
        if unknown:
            raise InvalidInput(f"Unknown evidence kinds: {', '.join(unknown)}.",
                               fields={"checkpoints": [f"Evidence kinds are {', '.join(sorted(kinds))}."]})
    with atomic_as(actor) as resolved:
        scope, _ = ComplianceScope.objects.update_or_create(key=key, defaults={
            "name": name, "retention_days": retention_days, "waiver_role": waiver_role})
        kept = []
        for cp in checkpoints:
            row, _ = ComplianceCheckpoint.objects.update_or_create(scope=scope, name=cp["name"].strip(), defaults={
                "required_evidence_kinds": list(cp.get("required_evidence_kinds", [])),
                "required_approval_stages": list(cp.get("required_approval_stages", [])),
                "retention_days": cp.get("retention_days"), "control": cp.get("control", "")})
            kept.append(row.pk)
        ComplianceCheckpoint.objects.filter(scope=scope).exclude(pk__in=kept).filter(waivers__isnull=True).delete()
        audit_event_record(action="compliance_scope.defined", target=scope, actor=resolved, details={
            "key": key, "waiver_role": waiver_role, "retention_days": retention_days,
            "checkpoints": [cp["name"] for cp in checkpoints]})
    return scope


def checkpoint_waive(*, checkpoint, change, reason: str, actor: Any):
    from apps.audit.history import atomic_as
    from apps.audit.services import audit_event_record

    from .models import CheckpointWaiver

    if not (reason or "").strip():
        raise InvalidInput("Say why the checkpoint is waived.", fields={"reason": ["This field may not be blank."]})
    refusal = waiver_refusal(checkpoint, change, actor)
    if refusal is not None:
        raise refusal
    with atomic_as(actor) as resolved:
        if CheckpointWaiver.objects.filter(checkpoint=checkpoint, change=change).exists():
            raise Conflict("This checkpoint is already waived for the change.", code="already_waived")
        waiver = CheckpointWaiver.objects.create(checkpoint=checkpoint, change=change, reason=reason.strip()[:4000],
                                                 waived_by=resolved.user)
        audit_event_record(action="change.checkpoint_waived", target=change, actor=resolved, details={
            "scope": checkpoint.scope.key, "checkpoint": checkpoint.name, "reason": reason.strip()[:500],
            "waiver_role": checkpoint.scope.waiver_role})
    return waiver


def waiver_refusal(checkpoint, change, user):
    if checkpoint.scope.key not in scopes_of(change):
        return InvalidInput("The change is not in this checkpoint's scope.", fields={"checkpoint": ["Not in scope."]})
    if getattr(user, "is_service_account", False) or not user.has_role(checkpoint.scope.waiver_role):
        return NotAllowed(f"Waiving {checkpoint.scope.name} checkpoints needs the role {checkpoint.scope.waiver_role}.",
                          code="permission_denied")
    if user.pk in (change.requester_id, change.implementer_id):
        return NotAllowed("The change's own people cannot waive its checkpoints.", code="segregation_of_duties")
    return None

