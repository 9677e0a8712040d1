from django import forms
from django.contrib import admin, messages

from apps.audit.admin_base import PortalAdmin

from .models import (
    Artifact,
    ArtifactStandard,
    Deployment,
    DeploymentLock,
    EnvironmentPolicy,
    GateDecision,
    PullRequest,
    SharedResource,
    SharedResourceLock,
    SigningKey,
    VersionPolicy,
    WebhookDelivery,
    WebhookIntegration,
)
from .services import signing_key_revoke


class WebhookIntegrationForm(forms.ModelForm):
    """The secret is write-only: never shown again, kept when the field is left blank."""

    secret = forms.CharField(required=False, strip=True, max_length=200, widget=forms.PasswordInput(render_value=False),
                             help_text="GitHub webhook secret or GitLab secret token. Leave blank to keep the current one.")

    class Meta:
        model = WebhookIntegration
        fields = ("provider", "name", "secret", "default_service", "is_active")

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if secret:
            return secret
        if self.instance.pk and self.instance.secret:
            return self.instance.secret
        raise forms.ValidationError("A new integration needs its secret.")


@admin.register(WebhookIntegration)
class WebhookIntegrationAdmin(PortalAdmin):
    """Secrets per integration: the webhook secret (GitHub) or secret token (GitLab)."""

    admin_writes = ("add", "change", "delete")
    secret_fields = ("secret",)
    form = WebhookIntegrationForm
    list_display = ("name", "provider", "default_service", "is_active", "created_at")
    list_filter = ("provider", "is_active")

    def get_readonly_fields(self, request, obj=None):
        # On the read-only view (no change permission) the secret must not be displayed either.
        return () if self.has_change_permission(request, obj) else ("provider", "name", "default_service",
                                                                     "is_active", "created_at")

    def get_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return super().get_fields(request, obj)
        return ("provider", "name", "default_service", "is_active", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PortalAdmin):
    list_display = ("delivery_id", "provider", "event", "status", "result", "received_at")
    list_filter = ("provider", "event", "status")


@admin.register(SigningKey)
class SigningKeyAdmin(PortalAdmin):
    """Keys are registered through the portal (the fingerprint is computed from the key) and
    revoked through signing_key_revoke; a key is never edited."""

    list_display = ("name", "team", "algorithm", "fingerprint", "is_active", "revoked_at")
    list_filter = ("algorithm", "is_active", "team")
    actions = ["revoke_selected"]

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("delivery.change_signingkey")

    @admin.action(permissions=["revoke"], description="Revoke the selected signing keys")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for key in queryset.filter(is_active=True):
            signing_key_revoke(key=key, actor=request.user)
            revoked += 1
        self.message_user(request, f"{revoked} signing key(s) revoked.", messages.SUCCESS)


@admin.register(EnvironmentPolicy)
class EnvironmentPolicyAdmin(PortalAdmin):
    """The gate's policy per environment: edited here, every edit in history and the audit log."""

    admin_writes = ("add", "change", "delete")
    list_display = ("environment", "require_signature", "tests_must_pass", "provenance_required", "max_critical",
                    "max_high", "promotion_max_age_days", "lock_timeout_minutes", "allowed_formats")


@admin.register(ArtifactStandard)
class ArtifactStandardAdmin(PortalAdmin):
    """The organisation's allowed packaging formats, checked when an artifact is registered. One
    row, never deleted: an empty list allows every format."""

    admin_writes = ("add", "change")
    list_display = ("name", "allowed_formats")


@admin.register(VersionPolicy)
class VersionPolicyAdmin(PortalAdmin):
    admin_writes = ("add", "change", "delete")
    list_display = ("service", "pattern")


@admin.register(Artifact)
class ArtifactAdmin(PortalAdmin):
    list_display = ("service", "version", "digest", "signature_status", "created_at")
    list_filter = ("signature_status", "format")
    search_fields = ("version", "digest", "git_sha")
    list_select_related = ("service",)


@admin.register(Deployment)
class DeploymentAdmin(PortalAdmin):
    list_display = ("service", "environment", "version", "status", "is_unauthorized", "started_at")
    list_filter = ("status", "environment", "is_unauthorized")
    list_select_related = ("service", "environment")
    raw_id_fields = ("artifact", "change", "rollback_of", "gate_decision", "created_by")


@admin.register(GateDecision)
class GateDecisionAdmin(PortalAdmin):
    list_display = ("id", "service", "environment", "decision", "created_at")
    list_filter = ("decision", "environment")
    list_select_related = ("service", "environment")


@admin.register(DeploymentLock)
class DeploymentLockAdmin(PortalAdmin):
    """A lock is released by its deployment finishing or by expiring (lock_timeout_minutes of the
    environment's policy); it is never deleted by hand."""

    list_display = ("service", "environment", "acquired_at", "expires_at", "deployment")


@admin.register(SharedResource)
class SharedResourceAdmin(PortalAdmin):
    """Named resources deployments lock (a database, a configuration store), and the services that
    declare they use them. Added and described here; held and released only by deployments."""

    admin_writes = ("add", "change", "delete")
    list_display = ("slug", "name", "kind")
    list_filter = ("kind",)
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("services",)
    fields = ("name", "slug", "kind", "description", "services")


@admin.register(SharedResourceLock)
class SharedResourceLockAdmin(PortalAdmin):
    """Held by a running deployment, released when it finishes or expires; never edited by hand."""

    list_display = ("resource", "deployment", "acquired_at", "expires_at")
    list_select_related = ("resource", "deployment")
    raw_id_fields = ("deployment",)


@admin.register(PullRequest)
class PullRequestAdmin(PortalAdmin):
    """Kept from webhooks only: read here, never edited (the history and audit log say who changed them)."""

    list_display = ("__str__", "title", "state", "service", "change", "provider_updated_at")
    list_filter = ("state", "provider")
    search_fields = ("repository", "title", "head_sha", "merge_commit_sha", "change_ref")
