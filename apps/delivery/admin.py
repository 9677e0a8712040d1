from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Artifact,
    Deployment,
    DeploymentLock,
    EnvironmentPolicy,
    GateDecision,
    PullRequest,
    SigningKey,
    VersionPolicy,
    WebhookDelivery,
    WebhookIntegration,
)


@admin.register(WebhookIntegration)
class WebhookIntegrationAdmin(SimpleHistoryAdmin):
    """Secrets per integration: the webhook secret (GitHub) or secret token (GitLab)."""

    list_display = ("name", "provider", "default_service", "is_active", "created_at")
    list_filter = ("provider", "is_active")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "provider", "event", "status", "result", "received_at")
    list_filter = ("provider", "event", "status")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]


@admin.register(SigningKey)
class SigningKeyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "team", "algorithm", "fingerprint", "is_active", "revoked_at")
    list_filter = ("algorithm", "is_active", "team")
    readonly_fields = ("fingerprint",)


@admin.register(EnvironmentPolicy)
class EnvironmentPolicyAdmin(SimpleHistoryAdmin):
    list_display = ("environment", "require_signature", "tests_must_pass", "provenance_required", "max_critical",
                    "max_high", "promotion_max_age_days", "lock_timeout_minutes")


@admin.register(VersionPolicy)
class VersionPolicyAdmin(SimpleHistoryAdmin):
    list_display = ("service", "pattern")


@admin.register(Artifact)
class ArtifactAdmin(SimpleHistoryAdmin):
    list_display = ("service", "version", "digest", "signature_status", "created_at")
    list_filter = ("signature_status", "format")
    search_fields = ("version", "digest", "git_sha")
    list_select_related = ("service",)

    def has_change_permission(self, request, obj=None):
        return False  # immutable


@admin.register(Deployment)
class DeploymentAdmin(SimpleHistoryAdmin):
    list_display = ("service", "environment", "version", "status", "is_unauthorized", "started_at")
    list_filter = ("status", "environment", "is_unauthorized")
    list_select_related = ("service", "environment")
    raw_id_fields = ("artifact", "change", "rollback_of", "gate_decision", "created_by")


@admin.register(GateDecision)
class GateDecisionAdmin(admin.ModelAdmin):
    list_display = ("id", "service", "environment", "decision", "created_at")
    list_filter = ("decision", "environment")
    list_select_related = ("service", "environment")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeploymentLock)
class DeploymentLockAdmin(admin.ModelAdmin):
    """Deleting a stuck lock here frees its slot."""

    list_display = ("service", "environment", "acquired_at", "expires_at", "deployment")



@admin.register(PullRequest)
class PullRequestAdmin(SimpleHistoryAdmin):
    """Kept from webhooks only: read here, never edited (the history and audit log say who changed them)."""

    list_display = ("__str__", "title", "state", "service", "change", "provider_updated_at")
    list_filter = ("state", "provider")
    search_fields = ("repository", "title", "head_sha", "merge_commit_sha", "change_ref")
    readonly_fields = [f.name for f in PullRequest._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
