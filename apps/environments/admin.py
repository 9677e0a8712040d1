"""Environment records in the admin: read-only (PortalAdmin's default); configuration records in config_admin. They are reported by
pipelines and changed by nobody; the history and audit log say who reported them."""

from django.contrib import admin

from apps.audit.admin_base import PortalAdmin

from . import config_admin  # noqa: F401  (configuration records)
from .models import AppliedMigration, MigrationMismatch, Provision, ProvisionResource


class ProvisionResourceInline(admin.TabularInline):
    model = ProvisionResource
    extra = 0
    can_delete = False
    fields = ("address", "resource_type", "mode", "action")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Provision)
class ProvisionAdmin(PortalAdmin):
    list_display = ("id", "environment", "tool", "status", "delete_count", "replace_count", "is_unauthorized", "created_at")
    list_filter = ("environment", "tool", "status", "is_unauthorized")
    list_select_related = ("environment",)
    search_fields = ("repository", "git_sha", "pipeline_run_id")
    raw_id_fields = ("change", "created_by")
    inlines = [ProvisionResourceInline]


@admin.register(AppliedMigration)
class AppliedMigrationAdmin(PortalAdmin):
    list_display = ("service", "environment", "version", "status", "checksum", "applied_at")
    list_filter = ("environment", "status", "tool")
    list_select_related = ("service", "environment")
    search_fields = ("version", "checksum", "description")


@admin.register(MigrationMismatch)
class MigrationMismatchAdmin(PortalAdmin):
    list_display = ("service", "environment", "version", "applied_checksum", "reported_checksum", "occurrences",
                    "last_seen_at")
    list_filter = ("environment",)
    list_select_related = ("service", "environment")
