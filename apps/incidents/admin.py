from django.contrib import admin

from apps.audit.admin_base import PortalAdmin, ReadOnlyInline

from .models import (
    ActionItem,
    Incident,
    IncidentAttachment,
    IncidentClassification,
    IncidentNotification,
    Review,
    Runbook,
    RunbookStep,
    RunbookTest,
    ServiceSubscription,
)


@admin.register(IncidentClassification)
class IncidentClassificationAdmin(PortalAdmin):
    """The taxonomy is managed here; classifications in use cannot be deleted (PROTECT)."""

    admin_writes = ("add", "change", "delete")
    list_display = ["name", "slug", "is_release_related"]
    list_editable = ["is_release_related"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


# Incidents, their evidence, reviews, runbooks and subscriptions change through the portal's
# services (audited); the admin only reads them.

@admin.register(Incident)
class IncidentAdmin(PortalAdmin):
    list_display = ["__str__", "service", "severity", "status", "started_at", "resolved_at"]
    list_filter = ["severity", "status", "classification"]
    search_fields = ["title"]
    list_select_related = ["service"]


@admin.register(IncidentAttachment)
class IncidentAttachmentAdmin(PortalAdmin):
    list_display = ["filename", "incident", "kind", "size", "sha256", "uploaded_at"]


@admin.register(IncidentNotification)
class IncidentNotificationAdmin(PortalAdmin):
    list_display = ["event_key", "event", "subject", "sent_at"]


class RunbookStepInline(ReadOnlyInline, admin.TabularInline):
    model = RunbookStep
    extra = 0


@admin.register(Runbook)
class RunbookAdmin(PortalAdmin):
    list_display = ["service", "owner", "last_tested_at"]
    list_select_related = ["service", "owner"]
    inlines = [RunbookStepInline]


@admin.register(RunbookTest)
class RunbookTestAdmin(PortalAdmin):
    list_display = ["runbook", "tested_at", "outcome", "tested_by"]


@admin.register(Review)
class ReviewAdmin(PortalAdmin):
    list_display = ["__str__", "status", "due_date"]


@admin.register(ActionItem)
class ActionItemAdmin(PortalAdmin):
    list_display = ["title", "type", "owner", "due_date", "status"]


@admin.register(ServiceSubscription)
class ServiceSubscriptionAdmin(PortalAdmin):
    list_display = ["service", "user", "created_at"]
