from django.contrib import admin

from apps.audit.admin_base import PortalAdmin

from .models import Environment, Service


@admin.register(Service)
class ServiceAdmin(PortalAdmin):
    admin_writes = ("add", "change", "delete")
    list_display = ("name", "slug", "owner_team", "tier", "is_active")
    list_filter = ("tier", "owner_team", "is_active")
    search_fields = ("name", "slug")


@admin.register(Environment)
class EnvironmentAdmin(PortalAdmin):
    admin_writes = ("add", "change", "delete")
    list_display = ("name", "slug", "order", "is_production")
