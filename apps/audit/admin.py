from django.contrib import admin

from .admin_base import PortalAdmin
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(PortalAdmin):
    list_display = ("seq", "created_at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("actor_type", "action")
    search_fields = ("actor_label", "action", "object_id", "object_repr")
    ordering = ("-seq",)
