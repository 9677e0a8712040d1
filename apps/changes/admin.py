from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

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
class ChangeRequestAdmin(SimpleHistoryAdmin):
    list_display = ["number", "title", "state", "change_type", "service", "environment", "risk_level", "created_at"]
    list_filter = ["state", "change_type", "environment", "risk_level"]
    search_fields = ["number", "title"]
    raw_id_fields = ["requester", "implementer", "service", "standard_template"]

    def has_change_permission(self, request, obj=None):
        return False  # changes move only through services (state machine, audit)


@admin.register(Approval)
class ApprovalAdmin(SimpleHistoryAdmin):
    list_display = ["change", "stage_name", "approver", "on_behalf_of", "decision", "decided_at", "voided_at"]
    raw_id_fields = ["change", "approver", "on_behalf_of", "stage", "cab_meeting"]

    def has_change_permission(self, request, obj=None):
        return False


for model in (Delegation, MaintenanceWindow, Freeze, EmergencyOverride, CabMeeting):
    admin.site.register(model, SimpleHistoryAdmin)
