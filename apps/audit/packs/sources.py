"""Where pack data comes from: the committed spine (changes, deployments) plus whatever the
changes and delivery apps add (approvals, emergency overrides, gate decisions, evidence
documents). Those are found by their relation to ChangeRequest / Deployment / Artifact, so a
pack picks them up as soon as they exist and simply lists none before."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.apps import apps as django_apps
from django.db import models

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


def _fk_to(model, target) -> str | None:
    for f in model._meta.concrete_fields:
        if isinstance(f, models.ForeignKey) and f.related_model is target:
            return f.name
    return None


@cache
def related_models(app_label: str, name_words: tuple[str, ...], target_label: str) -> tuple[tuple[Any, str], ...]:
    """Models of `app_label` whose name contains one of `name_words` and that point at
    `target_label` ("changes.ChangeRequest"): (model, fk field name) pairs, by name."""
    try:
        target = django_apps.get_model(target_label)
        config = django_apps.get_app_config(app_label)
    except LookupError:
        return ()
    found = []
    for model in config.get_models():
        name = model.__name__.lower()
        if name.startswith("historical") or not any(word in name for word in name_words):
            continue
        fk = _fk_to(model, target)
        if fk:
            found.append((model, fk))
    return tuple(sorted(found, key=lambda pair: pair[0].__name__))


def _exact(label: str, fk: str) -> tuple[tuple[Any, str], ...] | None:
    try:
        return ((django_apps.get_model(label), fk),)
    except LookupError:
        return None


def approval_models():
    # The changes app's Approval (one decision per person per stage); reminders are not approvals.
    return _exact("changes.Approval", "change") or tuple(
        (m, fk) for m, fk in related_models("changes", ("approval", "decision", "signoff"), "changes.ChangeRequest")
        if "reminder" not in m.__name__.lower())


def emergency_models():
    return _exact("changes.EmergencyOverride", "change") or related_models(
        "changes", ("emergency", "override"), "changes.ChangeRequest")


def gate_models():
    return _exact("delivery.GateDecision", "change") or related_models("delivery", ("gate",), "changes.ChangeRequest")


def evidence_models():
    return _exact("delivery.Evidence", "artifact") or related_models(
        "delivery", ("evidence", "document"), "delivery.Artifact")


def gate_decisions_by_id(ids) -> list[dict[str, Any]]:
    try:
        model = django_apps.get_model("delivery.GateDecision")
    except LookupError:
        return []
    ids = [i for i in ids if i]
    if not ids:
        return []
    return [{"_model": label(model), **v} for v in model._default_manager.filter(pk__in=ids).order_by("pk").values()]


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


APPROVER_FIELDS = ("approver_id", "on_behalf_of_id", "decided_by_id", "user_id", "actor_id", "reviewer_id")
APPROVE_WORDS = {"approve", "approved", "approval", "accept", "accepted", "yes"}


def approving_user_ids(approval: dict[str, Any]) -> list[int]:
    """The people an approval row records as approving (heuristic over the approvals app's
    field names: decision/outcome/status in approve*, or approved=True)."""
    if approval.get("voided_at"):
        return []  # voided by an edit of the change: it approves nothing any more
    decision = None
    for key in ("decision", "outcome", "status", "result"):
        if key in approval:
            decision = str(approval[key]).lower()
            break
    if decision is None and "approved" in approval:
        decision = "approved" if approval["approved"] else "rejected"
    if decision is not None and decision not in APPROVE_WORDS:
        return []
    return [approval[f] for f in APPROVER_FIELDS if approval.get(f)]


def approval_time(approval: dict[str, Any]) -> str | None:
    for key in ("decided_at", "approved_at", "created_at", "at"):
        if approval.get(key):
            return approval[key]
    return None


def is_retrospective(approval: dict[str, Any]) -> bool:
    return any(("retro" in key and value) for key, value in approval.items())


def retrospectively_approved(overrides: list[dict[str, Any]]) -> bool | None:
    """None when no emergency-override records exist to say; else whether one carries a
    retrospective approval (a non-empty field whose name says retro*approv*)."""
    if not overrides:
        return None
    for override in overrides:
        for key, value in override.items():
            if "retro" in key and "approv" in key and value:
                return True
    return False
