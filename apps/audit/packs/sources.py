"""Where pack data comes from: the committed spine (changes, deployments) and the records the
changes and delivery apps keep about them (approvals, emergency overrides, gate decisions,
evidence documents), each read from its named model."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from ..chain import format_time


def json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


def row(values: dict[str, Any]) -> dict[str, Any]:
    return {key: json_value(value) for key, value in values.items()}


# Audit is the lowest layer: its modules import no other app at import time. A pack reads the
# records of the apps above it (DESIGN.md: "reports and audit read from the others") inside these
# functions, by name. A renamed model or field raises instead of leaving the pack silently
# without approvals, overrides, gate decisions or evidence.

def approval_models() -> tuple[tuple[Any, str], ...]:
    """(model, foreign key to the change) of the approval decisions."""
    from apps.changes.models import Approval

    return ((Approval, "change"),)


def emergency_models() -> tuple[tuple[Any, str], ...]:
    from apps.changes.models import EmergencyOverride

    return ((EmergencyOverride, "change"),)


def gate_models() -> tuple[tuple[Any, str], ...]:
    from apps.delivery.models import GateDecision

    return ((GateDecision, "change"),)


def evidence_models() -> tuple[tuple[Any, str], ...]:
    """(model, foreign key to the artifact) of the pipeline evidence documents."""
    from apps.delivery.models import Evidence

    return ((Evidence, "artifact"),)


def validation_evidence(deployment_ids) -> dict[int, dict[str, Any]]:
    """Post-deployment validation of the deployments (verdict, judgement inputs, rollback
    decision, canary analysis, checks, log review, sample digests), by deployment id; only
    the deployments that have any."""
    from apps.validation.evidence import snapshots_for

    return snapshots_for(deployment_ids)


def gate_decisions_by_id(ids) -> list[dict[str, Any]]:
    from apps.delivery.models import GateDecision

    ids = [i for i in ids if i]
    if not ids:
        return []
    return [{"_model": label(GateDecision), **v} for v in GateDecision.objects.filter(pk__in=ids).order_by("pk").values()]


def rows_for(model, fk: str, ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """All rows of `model` pointing at `ids` through `fk`, grouped by that id, ordered by pk."""
    ids = list(ids)
    grouped: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return grouped
    attname = model._meta.get_field(fk).attname
    for values in model._default_manager.filter(**{f"{fk}__in": ids}).order_by("pk").values():
        grouped.setdefault(values[attname], []).append(values)  # raw: the pack writer converts
    return grouped


def label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def approving_user_ids(approval: dict[str, Any]) -> list[int]:
    """The people an approval row (changes.Approval) records as approving: the approver and the
    person they stood in for. None for a rejection, or for an approval voided by an edit of the
    change (it approves nothing any more)."""
    from apps.changes.models import Approval

    if approval["voided_at"] or approval["decision"] != Approval.Decision.APPROVE:
        return []
    return [uid for uid in (approval["approver_id"], approval["on_behalf_of_id"]) if uid]


def retrospectively_approved(overrides: list[dict[str, Any]]) -> bool | None:
    """None when the change has no emergency override to say; else whether one of its
    overrides (changes.EmergencyOverride) was approved retrospectively."""
    if not overrides:
        return None
    return any(override["retro_approved_at"] for override in overrides)


# Configuration drift (apps/environments): unauthorised configuration changes are exceptions of
# change management too. A period pack lists the findings open at some time in the period (of the
# service, or in production for a control pack); a change pack, the findings its change accepted.
DRIFT_FIELDS = ("id", "service__slug", "environment__slug", "environment__is_production", "key", "kind", "expected",
                "observed", "secret", "must_match", "baseline__version", "first_seen", "last_seen", "deployment_id",
                "status", "resolution", "resolved_at", "resolved_by__username", "resolving_change__number",
                "resolving_baseline__version", "resolving_observation_id")


def drift_model():
    from apps.environments.models import DriftFinding

    return DriftFinding


def drift_findings(*, scope: str, start=None, end=None, service: str | None = None,
                   change: str | None = None) -> list[dict[str, Any]]:
    """The drift findings a pack of this scope covers (expected/observed are stored masked: no
    secret reaches a pack), ordered by first_seen. Release packs list none."""
    from apps.environments.config_selectors import findings_open_in_period

    DriftFinding = drift_model()
    if scope == "change":
        qs = DriftFinding.objects.filter(resolving_change__number=change)
    elif scope in ("service_period", "control_period"):
        qs = findings_open_in_period(start=start, end=end)
        qs = qs.filter(service__slug=service) if scope == "service_period" else qs.filter(
            environment__is_production=True)
    else:
        return []
    return list(qs.order_by("first_seen", "pk").values(*DRIFT_FIELDS))
