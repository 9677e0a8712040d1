from django.contrib import admin

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
class IncidentClassificationAdmin(admin.ModelAdmin):
    """The taxonomy is managed here; classifications in use cannot be deleted (PROTECT)."""

    list_display = ["name", "slug", "is_release_related"]
    list_editable = ["is_release_related"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Incidents change through the portal's services (audited); the admin only reads them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(_ReadOnlyAdmin):
    list_display = ["__str__", "service", "severity", "status", "started_at", "resolved_at"]
    list_filter = ["severity", "status", "classification"]
    search_fields = ["title"]
    list_select_related = ["service"]


@admin.register(IncidentAttachment)
class IncidentAttachmentAdmin(_ReadOnlyAdmin):
    list_display = ["filename", "incident", "kind", "size", "sha256", "uploaded_at"]


@admin.register(IncidentNotification)
class IncidentNotificationAdmin(_ReadOnlyAdmin):
    list_display = ["event_key", "event", "subject", "sent_at"]


class RunbookStepInline(admin.TabularInline):
    model = RunbookStep
    extra = 0


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ["service", "owner", "last_tested_at"]
    list_select_related = ["service", "owner"]
    inlines = [RunbookStepInline]
    readonly_fields = ["last_tested_at", "last_reminded_at"]


@admin.register(RunbookTest)
class RunbookTestAdmin(_ReadOnlyAdmin):
    list_display = ["runbook", "tested_at", "outcome", "tested_by"]


@admin.register(Review)
class ReviewAdmin(_ReadOnlyAdmin):
    list_display = ["__str__", "status", "due_date"]


@admin.register(ActionItem)
class ActionItemAdmin(_ReadOnlyAdmin):
    list_display = ["title", "type", "owner", "due_date", "status"]


@admin.register(ServiceSubscription)
class ServiceSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["service", "user", "created_at"]
