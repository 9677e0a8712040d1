"""The SOX change-management control: a production deployment passes when it ran under a
change request approved before it started, approved by someone other than the requester
and implementer, for the same service — or, for an emergency change, approved retrospectively."""

from __future__ import annotations

from typing import Any

from .sources import approving_user_ids, retrospectively_approved

EXCEPTION_LABELS = {
    "no_change": "Deployed with no change request",
    "change_not_approved": "Change request never approved",
    "approved_after_deployment": "Change approved after the deployment started",
    "self_approved": "Approved by its own requester or implementer",
    "emergency_without_retrospective_approval": "Emergency change without retrospective approval",
    "change_for_other_service": "Change request is for another service",
    "deployed_without_gate_approval": "Deployed without a gate 'allow' (flagged unauthorized)",
}


def classify(deployment: dict[str, Any], change: dict[str, Any] | None, approvals: list[dict[str, Any]],
             overrides: list[dict[str, Any]]) -> list[str]:
    """Exception codes for one production deployment (empty: it passes the control)."""
    codes: list[str] = []
    if change is None:
        codes.append("no_change")
    else:
        approved_at = change["approved_at"]
        if approved_at is None and change.get("change_type__is_pre_approved"):
            approved_at = change["submitted_at"]  # a standard change is approved by its type
        approvers = {uid for a in approvals for uid in approving_user_ids(a)}
        if approvers & {change["requester_id"], change["implementer_id"]} - {None}:
            codes.append("self_approved")
        if change["change_type__is_emergency"]:
            retro = retrospectively_approved(overrides)
            if retro is None:  # no override records: the change's own approval is the retrospective one
                retro = approved_at is not None
            if not retro:
                codes.append("emergency_without_retrospective_approval")
        elif approved_at is None:
            codes.append("change_not_approved")
        elif approved_at > deployment["started_at"]:
            codes.append("approved_after_deployment")
        if change["service_id"] != deployment["service_id"]:
            codes.append("change_for_other_service")
    if deployment.get("is_unauthorized"):
        codes.append("deployed_without_gate_approval")
    return codes
