"""A change's deployment strategy: GET the recommendation (with its reasons) and the current
decision; POST records the choice (a reason is required when it differs from the recommendation).
Reads need `changes:read`, the choice `changes:write`; who may is decided in strategy.py."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.changes.models import RolloutStrategy
from apps.changes.permissions import get_change_for_user
from releaseportal.api.views import PortalAPIView

from .models import StrategyDecision
from .strategy import recommend_strategy, strategy_decision_record


class StrategyIn(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=RolloutStrategy.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000,
                                   help_text="Required when the strategy differs from the recommendation")


class StrategyOut(serializers.Serializer):
    recommendation = serializers.DictField(help_text='{"strategy", "reasons": [words]}')
    decision = serializers.DictField(allow_null=True, help_text='{"strategy", "recommended", "reason", '
                                                                '"decided_by", "decided_at"} or null')


def strategy_out(change) -> dict:
    recommendation = recommend_strategy(change)
    decision = StrategyDecision.objects.filter(change=change).select_related("decided_by").first()
    return {"recommendation": {"strategy": recommendation.strategy, "reasons": recommendation.reasons},
            "decision": None if decision is None else {
                "strategy": decision.strategy, "recommended": decision.recommended, "reason": decision.reason,
                "recommendation_reasons": decision.recommendation_reasons,
                "decided_by": decision.decided_by.username, "decided_at": decision.decided_at}}


@extend_schema(tags=["releases"])
class ChangeStrategyApi(PortalAPIView):
    required_scopes = {"GET": "changes:read", "POST": "changes:write"}

    @extend_schema(summary="The recommended deployment strategy (with reasons) and the recorded choice",
                   responses=StrategyOut)
    def get(self, request, ref: str):
        return Response(strategy_out(get_change_for_user(request.user, ref)))

    @extend_schema(summary="Record the deployment strategy chosen (400 reason_required when it differs from the "
                           "recommendation without a reason)", request=StrategyIn, responses={201: StrategyOut})
    def post(self, request, ref: str):
        change = get_change_for_user(request.user, ref)
        data_in = StrategyIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        strategy_decision_record(change=change, actor=request.user, **data_in.validated_data)
        return Response(strategy_out(change), status=status.HTTP_201_CREATED)
