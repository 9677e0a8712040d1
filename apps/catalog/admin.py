from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from releaseportal.admin import AuditedAdminMixin

from .models import Environment, Service


@admin.register(Service)
class ServiceAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "slug", "owner_team", "tier", "is_active")
    list_filter = ("tier", "owner_team", "is_active")
    search_fields = ("name", "slug")


@admin.register(Environment)
class EnvironmentAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "slug", "order", "is_production")
