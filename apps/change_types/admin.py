from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ApprovalStage, ChangeType, StandardChangeTemplate


class StageInline(admin.TabularInline):
    model = ApprovalStage
    extra = 0


@admin.register(ChangeType)
class ChangeTypeAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "name", "is_pre_approved", "is_emergency", "cab_required", "cab_from_risk", "is_active"]
    inlines = [StageInline]


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "version", "name", "state", "service"]
    list_filter = ["state"]
