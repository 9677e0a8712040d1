from django.contrib import admin

from apps.audit.admin_base import PortalAdmin, ReadOnlyInline

from .models import ApprovalStage, ChangeType, StandardChangeTemplate


class StageInline(ReadOnlyInline, admin.TabularInline):
    model = ApprovalStage
    extra = 0


@admin.register(ChangeType)
class ChangeTypeAdmin(PortalAdmin):
    """Change types and their approval workflows are policy as code: they change through
    `manage.py policy_import` (apps.change_types.policy), which validates, diffs and audits them."""

    list_display = ["slug", "name", "is_pre_approved", "is_emergency", "cab_required", "cab_from_risk", "is_active"]
    inlines = [StageInline]


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(PortalAdmin):
    """Proposed, approved by someone else and retired through the template services."""

    list_display = ["slug", "version", "name", "state", "service"]
    list_filter = ["state"]
