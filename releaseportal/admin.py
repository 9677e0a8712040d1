"""Changes made in the Django admin are audited like any other: the admin's own change log
entry is mirrored into the hash-chained audit log, inside the admin's transaction."""

from __future__ import annotations

from apps.audit.services import audit_event_record


class AuditedAdminMixin:
    def log_addition(self, request, obj, message):
        audit_event_record(action=f"admin.{obj._meta.model_name}.added", target=obj, actor=request.user,
                           details={"message": str(message)})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_event_record(action=f"admin.{obj._meta.model_name}.changed", target=obj, actor=request.user,
                           details={"message": str(message)})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_event_record(action=f"admin.{obj._meta.model_name}.deleted", target=obj, actor=request.user)
        return super().log_deletions(request, queryset)
