from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Environment, Service


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "owner_team", "tier", "is_active")
    list_filter = ("tier", "owner_team", "is_active")
    search_fields = ("name", "slug")


@admin.register(Environment)
class EnvironmentAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "order", "is_production")
