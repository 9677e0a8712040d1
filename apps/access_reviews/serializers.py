from __future__ import annotations

from rest_framework import serializers

from .models import AccessGrant, Privilege, ReviewCampaign, ReviewItem


class GrantOut(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")
    user_kind = serializers.CharField(source="user.kind")
    service = serializers.CharField(source="service.slug")
    environment = serializers.CharField(source="environment.slug")
    granted_by = serializers.CharField(source="granted_by.username", default=None)
    revoked_by = serializers.CharField(source="revoked_by.username", default=None)
    status = serializers.CharField()
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = AccessGrant
        fields = ["id", "user", "user_kind", "privilege", "service", "environment", "status", "active", "granted_by",
                  "granted_at", "justification", "expires_at", "expired_at", "revoked_at", "revoked_by",
                  "revoked_reason", "last_used_at", "flagged_at", "flag_reason"]


class GrantIn(serializers.Serializer):
    user = serializers.CharField(max_length=150)
    privilege = serializers.ChoiceField(choices=Privilege.choices)
    service = serializers.CharField(max_length=60)
    environment = serializers.CharField(max_length=40)
    justification = serializers.CharField(max_length=2000)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class RevokeIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class CompletionOut(serializers.Serializer):
    total = serializers.IntegerField()
    decided = serializers.IntegerField()
    open = serializers.IntegerField()
    percent = serializers.FloatField()
    keep = serializers.IntegerField()
    revoke = serializers.IntegerField()
    keep_until = serializers.IntegerField()
    revoked_applied = serializers.IntegerField()
    revoked_by_policy = serializers.IntegerField()


class CampaignListOut(serializers.ModelSerializer):
    team = serializers.CharField(source="scope_team.slug", default=None)
    opened_by = serializers.CharField(source="opened_by.username", default=None)
    completion = serializers.SerializerMethodField()

    class Meta:
        model = ReviewCampaign
        fields = ["id", "name", "status", "scope", "team", "scope_compliance", "period", "opened_at", "opened_by",
                  "due_date", "closed_at", "completion"]

    def get_completion(self, obj) -> dict:
        total = getattr(obj, "item_count", 0)
        decided = getattr(obj, "decided_count", 0)
        return {"total": total, "decided": decided, "open": total - decided,
                "percent": round(100 * decided / total, 1) if total else 100.0}


class ItemOut(serializers.ModelSerializer):
    grant = GrantOut()
    reviewer = serializers.CharField(source="reviewer.username")
    reassigned_from = serializers.CharField(source="reassigned_from.username", default=None)
    decided_by = serializers.CharField(source="decided_by.username", default=None)
    last_activity = serializers.DateTimeField(default=None)

    class Meta:
        model = ReviewItem
        fields = ["id", "grant", "reviewer", "reassigned_from", "assignment_note", "context", "last_activity",
                  "decision", "keep_until", "justification", "decided_by", "decided_at", "outcome", "applied_at"]


class ReportOut(serializers.Serializer):
    format = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    download_url = serializers.CharField()


class DecisionIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["keep", "revoke", "keep_until"])
    justification = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    keep_until = serializers.DateField(required=False, allow_null=True)
