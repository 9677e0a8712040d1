"""Sections on the change page: its compliance checkpoints (met, waived or open, with a waiver form
for the scope's waiver role), and its release train and cadence (off-cadence and its
justification) with the release it belongs to; the recommended deployment strategy and the
choice recorded. A fixed number of queries."""

from __future__ import annotations

from apps.changes.models import RolloutStrategy

from . import cadence as cadence_rules
from .checkpoints import OPEN, status_for_changes, waiver_refusal
from .models import OffCadenceJustification, ReleaseChange, StrategyDecision, TrainService
from .permissions import can_justify_off_cadence
from .strategy import CLOSED_CHANGE_STATES, can_decide_strategy, recommend_strategy


def sections(request, change) -> list[dict]:
    return _checkpoints(request, change) + _train(request, change) + _strategy(request, change)


def _strategy(request, change) -> list[dict]:
    """The recommended deployment strategy with its reasons, the recorded choice, and a small form
    for who may choose (two queries)."""
    recommendation = recommend_strategy(change)
    decision = StrategyDecision.objects.filter(change_id=change.pk).select_related("decided_by").first()
    can_decide = change.state not in CLOSED_CHANGE_STATES and can_decide_strategy(request.user, change)
    return [{"title": "Deployment strategy", "template": "releases/sections/change_strategy.html", "order": 16,
             "data": {"change": change, "recommendation": recommendation, "decision": decision,
                      "can_decide": can_decide, "choices": RolloutStrategy.choices}}]


def _checkpoints(request, change) -> list[dict]:
    rows = status_for_changes([change])[change.pk]
    if not rows:
        return []
    for row in rows:
        row.can_waive = row.status == OPEN and waiver_refusal(row.checkpoint, change, request.user) is None
    return [{"title": "Compliance checkpoints", "template": "releases/sections/change_checkpoints.html", "order": 14,
             "data": {"rows": rows}}]


def _train(request, change) -> list[dict]:
    link = TrainService.objects.filter(service_id=change.service_id).select_related("train").first()
    if link is None:
        return []
    train = link.train
    off = change.environment.is_production and not cadence_rules.is_on_cadence(train, change.planned_start)
    justification = (OffCadenceJustification.objects.filter(change_id=change.pk).select_related("recorded_by").first()
                     if off else None)
    release_link = ReleaseChange.objects.filter(change_id=change.pk).select_related("release").first()
    return [{"title": "Release train", "template": "releases/sections/change_train.html", "order": 15, "data": {
        "train": train, "off_cadence": off, "justification": justification, "release_link": release_link,
        "can_justify": off and can_justify_off_cadence(request.user, change),
        "windows": cadence_rules.next_windows(train, change.planned_start, 2) if off and change.planned_start else []}}]
