from django.contrib import admin

from apps.audit.admin_base import PortalAdmin

from .models import (
    Approval,
    CabMeeting,
    ChangeRequest,
    Delegation,
    EmergencyOverride,
    Freeze,
    MaintenanceWindow,
)


@admin.register(ChangeRequest)
class ChangeRequestAdmin(PortalAdmin):
    """Changes move only through their services (state machine, approvals, audit)."""

    list_display = ["number", "title", "state", "change_type", "service", "environment", "risk_level", "created_at"]
    list_filter = ["state", "change_type", "environment", "risk_level"]
    search_fields = ["number", "title"]
    raw_id_fields = ["requester", "implementer", "service", "standard_template"]


@admin.register(Approval)
class ApprovalAdmin(PortalAdmin):
    list_display = ["change", "stage_name", "approver", "on_behalf_of", "decision", "decided_at", "voided_at"]
    raw_id_fields = ["change", "approver", "on_behalf_of", "stage", "cab_meeting"]


for model in (Delegation, MaintenanceWindow, Freeze, EmergencyOverride, CabMeeting):
    admin.site.register(model, PortalAdmin)
