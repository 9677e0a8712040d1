from __future__ import annotations

from rest_framework import serializers

from apps.catalog.models import COMPLIANCE_SCOPE_KEYS

from .models import Approval, ChangeRequest, RolloutStrategy
from .risk import QUESTION_KEYS


class ChangeCreateIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    change_type = serializers.SlugField()
    service = serializers.SlugField()
    environment = serializers.SlugField()
    planned_start = serializers.DateTimeField(required=False, allow_null=True, default=None)
    planned_end = serializers.DateTimeField(required=False, allow_null=True, default=None)
    rollout_strategy = serializers.ChoiceField(choices=RolloutStrategy.choices, default=RolloutStrategy.ROLLING)
    rollback_plan = serializers.CharField(required=False, allow_blank=True, default="")
    rollback_criteria = serializers.DictField(required=False, default=dict)
    compliance_scopes = serializers.ListField(child=serializers.ChoiceField(choices=COMPLIANCE_SCOPE_KEYS),
                                              required=False, allow_null=True, default=None)
    risk_answers = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict)
    implementer = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None,
                                        help_text="username")
    standard_template = serializers.SlugField(required=False, allow_blank=True, default="",
                                              help_text="slug of an approved standard change template")

    def validate_risk_answers(self, value):
        unknown = set(value) - set(QUESTION_KEYS)
        if unknown:
            raise serializers.ValidationError(f"Unknown questions: {', '.join(sorted(unknown))}. "
                                              f"Known: {', '.join(QUESTION_KEYS)}.")
        return value

    def validate_rollback_criteria(self, value):
        for key, number in value.items():
            if not isinstance(number, int | float) or isinstance(number, bool) or number < 0:
                raise serializers.ValidationError(f"{key} must be a non-negative number.")
        return value


class ChangeUpdateIn(ChangeCreateIn):
    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class ApprovalIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Approval.Decision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class TransitionIn(serializers.Serializer):
    to_state = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class ApprovalOut(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)
    on_behalf_of = serializers.SlugRelatedField(slug_field="username", read_only=True)
    change = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = Approval
        fields = ["id", "change", "stage_name", "approver", "on_behalf_of", "decision", "comment", "content_hash",
                  "decided_at", "cab_meeting", "voided_at", "void_reason"]


class ChangeListOut(serializers.ModelSerializer):
    change_type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    implementer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    team = serializers.CharField(source="service.owner_team.slug", read_only=True)

    class Meta:
        model = ChangeRequest
        fields = ["id", "number", "title", "state", "change_type", "service", "team", "environment", "requester",
                  "implementer", "planned_start", "planned_end", "risk_level", "risk_score", "created_at",
                  "submitted_at", "approved_at", "is_unauthorised"]


class ChangeOut(ChangeListOut):
    approval = serializers.SerializerMethodField()
    conflicts = serializers.SerializerMethodField()
    emergency_override = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()

    class Meta(ChangeListOut.Meta):
        fields = ChangeListOut.Meta.fields + [
            "description", "rollout_strategy", "rollback_plan", "rollback_criteria", "compliance_scopes",
            "risk_answers", "risk_breakdown", "cab_required", "content_hash", "review_reason", "outcome",
            "implementation_started_at", "implemented_at", "closed_at", "post_mortem_due_at", "post_mortem_at",
            "approval", "conflicts", "emergency_override", "schedule"]

    def get_approval(self, obj) -> dict:
        from .workflow import evaluate

        return evaluate(obj).as_api()

    def get_conflicts(self, obj) -> list[dict]:
        from .schedule import change_conflicts

        return change_conflicts(obj)

    def get_schedule(self, obj) -> dict:
        """The maintenance windows the change is planned into, their stakeholder SLA (who agreed,
        when) and the SLA flags (also listed in `conflicts`, kind `window_sla`)."""
        from .schedule import change_schedule

        schedule = change_schedule(obj)
        return {
            "planned_start": schedule["planned_start"], "planned_end": schedule["planned_end"],
            "scheduled_at": schedule["notice_reference"] if obj.submitted_at else None,
            "windows": [{
                "id": w["id"], "name": w["name"], "occurrence_start": w["occurrence_start"],
                "occurrence_end": w["occurrence_end"], "sla": {
                    **w["sla"], "agreed_by": [{"user": a.user.username if a.user else None,
                                               "group": a.group_name or None, "agreed_at": a.agreed_at}
                                              for a in w["agreements"]]}}
                for w in schedule["windows"]],
            "flags": schedule["flags"]}

    def get_emergency_override(self, obj) -> dict | None:
        override = obj.emergency_overrides.select_related("authorised_by").first()
        if override is None:
            return None
        return {"authorised_by": override.authorised_by.username, "authorised_at": override.authorised_at,
                "expires_at": override.expires_at, "active": override.is_active(),
                "retro_approved_at": override.retro_approved_at, "unauthorised_at": override.unauthorised_at}


class OverrideIn(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)
    # Bounds checked by services.override_hours_clean, the one check the page uses too.
    hours = serializers.IntegerField(required=False, allow_null=True, default=None,
                                     help_text="1 to 72; blank for the change type's default")


class PostMortemIn(serializers.Serializer):
    post_mortem = serializers.CharField(max_length=20000)
