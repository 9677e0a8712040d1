"""Deployment strategy: a recommendation (blue-green, canary, rolling, recreate) from the change's
risk, its service's tier and its recent production history, with the reasons in words; and the
choice recorded with why (StrategyDecision: history + one audit event).

The rules, first match wins:
1. The change alters a database schema or its data (risk answer `database_change`): blue-green on
   a tier-1/2 service (the previous environment stays to switch back to; the migration must stay
   backward compatible), recreate on tier 3/4 (a short planned stop: two versions never write one
   database at once).
2. Tier 1/2 with failed deployments or rollbacks in production in the last 30 days: canary.
3. High or critical risk: canary.
4. Tier 1 at medium risk: canary.
5. Otherwise: rolling."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from apps.changes.models import ChangeState, RolloutStrategy
from apps.delivery.models import Deployment
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .models import StrategyDecision
from .permissions import can_justify_off_cadence

HISTORY_DAYS = 30
CLOSED_CHANGE_STATES = (ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK, ChangeState.REJECTED,
                        ChangeState.CANCELLED, ChangeState.CLOSED)


@dataclass(frozen=True)
class DeployHistory:
    """The service's production record over the last HISTORY_DAYS days."""

    failed: int = 0      # deployments that failed or were rolled back
    rollbacks: int = 0   # rollback deployments


@dataclass(frozen=True)
class Recommendation:
    strategy: str
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return RolloutStrategy(self.strategy).label


def deploy_history(service_id: int, at=None) -> DeployHistory:
    """One query."""
    since = (at or timezone.now()) - timedelta(days=HISTORY_DAYS)
    counts = Deployment.objects.filter(service_id=service_id, environment__is_production=True,
                                       started_at__gte=since).aggregate(
        failed=Count("pk", filter=Q(status__in=[Deployment.Status.FAILED, Deployment.Status.ROLLED_BACK])),
        rollbacks=Count("pk", filter=Q(kind=Deployment.Kind.ROLLBACK)))
    return DeployHistory(failed=counts["failed"] or 0, rollbacks=counts["rollbacks"] or 0)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def recommend_strategy(change, history: DeployHistory | None = None) -> Recommendation:
    """The strategy for `change` and why. Pure given `history` (read from the database when not
    given): the change's risk answers and level, its service's tier, the service's history."""
    if history is None:
        history = deploy_history(change.service_id)
    tier = change.service.tier
    level = change.risk_level or "unassessed"
    answers = change.risk_answers or {}
    critical_tier = tier <= 2
    troubled = history.failed + history.rollbacks > 0
    record = (f"{_plural(history.failed, 'failed deployment')} and {_plural(history.rollbacks, 'rollback')} "
              f"in production in the last {HISTORY_DAYS} days")
    if answers.get("database_change"):
        if critical_tier:
            return Recommendation(RolloutStrategy.BLUE_GREEN, [
                "The change alters a database schema or its data (stateful).",
                f"Tier-{tier} service: blue-green keeps the previous environment running to switch back to at "
                "once; the migration must stay backward compatible with it.",
                *([f"Recent record: {record}."] if troubled else [])])
        return Recommendation(RolloutStrategy.RECREATE, [
            "The change alters a database schema or its data (stateful).",
            f"Tier-{tier} service: a short planned stop (recreate) means two versions never write one database "
            "at once."])
    if critical_tier and troubled:
        return Recommendation(RolloutStrategy.CANARY, [
            f"Tier-{tier} service with {record}.",
            "A canary sends a small share of traffic to the new version first and stops there if it misbehaves."])
    if level in ("high", "critical"):
        return Recommendation(RolloutStrategy.CANARY, [
            f"Risk is {level}.", "A canary limits how many users a bad version reaches."])
    if tier == 1 and level == "medium":
        return Recommendation(RolloutStrategy.CANARY, [
            "Tier-1 service at medium risk.", "A canary limits how many users a bad version reaches."])
    return Recommendation(RolloutStrategy.ROLLING, [
        f"Risk is {level} on a tier-{tier} service with no failed deployment or rollback in production in the "
        f"last {HISTORY_DAYS} days.",
        "Rolling replaces instances a few at a time without extra capacity."])


def can_decide_strategy(user, change) -> bool:
    """The change's requester or implementer, or a release manager (as for off-cadence)."""
    return can_justify_off_cadence(user, change)


def strategy_decision_record(*, change, strategy: str, actor: Any, reason: str = "") -> StrategyDecision:
    """Record the strategy chosen for `change` (replacing an earlier choice: its history keeps it).
    A reason is required when the choice differs from the recommendation."""
    resolved = resolve_actor(actor)
    if resolved.kind in ("user", "service_account") and not can_decide_strategy(resolved.user, change):
        raise NotAllowed("The change's requester, implementer or a release manager chooses its strategy.")
    if strategy not in RolloutStrategy.values:
        raise InvalidInput(f"Unknown strategy {strategy!r}.",
                           fields={"strategy": [f"One of {', '.join(RolloutStrategy.values)}."]})
    if change.state in CLOSED_CHANGE_STATES:
        state = change.get_state_display().lower()
        raise Conflict(f"{change.number} is {state}: its strategy is history.", code="change_closed",
                       fields={"strategy": [f"The change is {state}."]})
    reason = (reason or "").strip()
    recommendation = recommend_strategy(change)
    if strategy != recommendation.strategy and not reason:
        chosen = RolloutStrategy(strategy).label.lower()
        message = f"The recommendation is {recommendation.label.lower()}: say why {chosen} is chosen instead."
        raise InvalidInput(message, code="reason_required", fields={"reason": [message]})
    with atomic_as(resolved):
        decision = StrategyDecision.objects.select_for_update().filter(change=change).first()
        before = decision.strategy if decision else ""
        if decision is None:
            decision = StrategyDecision(change=change)
        else:
            history_stamp(decision, resolved)
        decision.strategy, decision.recommended = strategy, recommendation.strategy
        decision.recommendation_reasons, decision.reason = recommendation.reasons, reason[:4000]
        decision.decided_by, decision.decided_at = resolved.user, timezone.now()
        decision.save()
        audit_event_record(action="change.strategy_decided", target=change, actor=resolved, details={
            "strategy": strategy, "recommended": recommendation.strategy, "reasons": recommendation.reasons,
            "reason": reason[:500], "previous": before})
    return decision
