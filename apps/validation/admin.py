"""Validation records in the admin: read-only governance records. Health policies change through
the API (governed, audited); rollback webhooks through `rollback.rollback_webhook_register`
(the API), so a secret never passes through a generic form."""

from __future__ import annotations

from django.contrib import admin

from apps.audit.admin_base import PortalAdmin

from .models import (
    CanaryAnalysis,
    CheckRun,
    HealthPolicy,
    LogReview,
    RollbackDecision,
    RollbackWebhook,
    RollbackWebhookAttempt,
    Verdict,
)


@admin.register(HealthPolicy)
class HealthPolicyAdmin(PortalAdmin):
    list_display = ("service", "environment", "validation_minutes", "auto_rollback", "updated_by", "updated_at")
    list_select_related = ("service", "environment", "updated_by")


@admin.register(Verdict)
class VerdictAdmin(PortalAdmin):
    list_display = ("deployment", "status", "action", "judged_at")
    list_filter = ("status", "action")
    list_select_related = ("deployment__service", "deployment__environment")


@admin.register(RollbackDecision)
class RollbackDecisionAdmin(PortalAdmin):
    list_display = ("deployment", "change", "trigger", "incident", "webhook_status", "decided_at")
    list_filter = ("trigger", "webhook_status")
    list_select_related = ("deployment__service", "deployment__environment", "change", "incident")


@admin.register(RollbackWebhook)
class RollbackWebhookAdmin(PortalAdmin):
    list_display = ("service", "environment", "pipeline", "url", "is_active", "created_at")
    list_select_related = ("service", "environment")
    exclude = ("secret",)


@admin.register(RollbackWebhookAttempt)
class RollbackWebhookAttemptAdmin(PortalAdmin):
    list_display = ("decision", "attempt", "outcome", "status_code", "error", "attempted_at")
    list_filter = ("outcome",)


@admin.register(CheckRun)
class CheckRunAdmin(PortalAdmin):
    list_display = ("deployment", "kind", "source", "total", "passed", "failed", "created_at")
    list_filter = ("kind", "source")
    list_select_related = ("deployment__service", "deployment__environment")


@admin.register(CanaryAnalysis)
class CanaryAnalysisAdmin(PortalAdmin):
    list_display = ("deployment", "result", "score", "method", "created_at")
    list_filter = ("result",)
    list_select_related = ("deployment__service", "deployment__environment")


@admin.register(LogReview)
class LogReviewAdmin(PortalAdmin):
    list_display = ("deployment", "status", "new_fingerprints", "total_fingerprints", "signed_off_by")
    list_filter = ("status",)
    list_select_related = ("deployment__service", "deployment__environment", "signed_off_by")
