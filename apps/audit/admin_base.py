"""PortalAdmin: the one base of every ModelAdmin in the portal (audit is the lowest layer, so any
app's admin.py may import it).

The Django admin is a path around the services, so it fails closed:

- By default a model is a governance record (changes, approvals, deployments, gate decisions,
  locks, overrides, incidents, the audit log …): the admin shows it and refuses to add, change,
  delete or revert it, whatever the user's model permissions say.
- An admin class opts in to the writes admins legitimately make on a plain record
  (`admin_writes = ("add", "change")`, …). Each such write (the add and change forms, list
  editing, the delete page, the bulk delete action, a history revert) runs in one transaction
  acting as the signed-in admin: history rows name the admin, and exactly one audit event per
  record names the admin and what changed, with secrets masked.
- Records with rules of their own change through their app's service, offered here as an admin
  action that calls it (revoking a token or a signing key), never by editing fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from .actor import Actor, acting_as
from .history import history_stamp
from .services import audit_event_record

WRITES = ("add", "change", "delete")
MASK = "********"
# A field whose name holds one of these never shows its value in the audit log.
_SECRET_WORDS = ("secret", "password", "token", "private_key", "api_key")


def has_history(model) -> bool:
    return getattr(model._meta, "simple_history_manager_attribute", None) is not None


class PortalAdmin(SimpleHistoryAdmin):
    """Read-only unless `admin_writes` names the writes allowed; every allowed write is audited."""

    admin_writes: tuple[str, ...] = ()
    # Fields masked in audit details besides those whose name says they are secret.
    secret_fields: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        unknown = set(self.admin_writes) - set(WRITES)
        if unknown:
            raise ValueError(f"{type(self).__name__}.admin_writes: unknown {sorted(unknown)}")
        if not has_history(model):
            # simple-history's history page needs a history table; Django's own log page does not.
            self.object_history_template = None

    # --- permissions: nothing is written here unless the class says so -------------------------

    def has_add_permission(self, request) -> bool:
        return "add" in self.admin_writes and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return "change" in self.admin_writes and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return "delete" in self.admin_writes and super().has_delete_permission(request, obj)

    # --- every view that can write runs in one transaction, acting as the admin ---------------

    @contextmanager
    def acting_admin(self, request) -> Iterator[Actor]:
        """The admin's write: one transaction, every history row in it (cascades included) naming
        the signed-in admin."""
        actor = Actor.for_user(request.user)
        with transaction.atomic(using=router.db_for_write(self.model)), acting_as(actor):
            yield actor

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with self.acting_admin(request):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        with self.acting_admin(request):
            return super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        # List editing and actions (the bulk delete) post here; Django runs actions outside a
        # transaction, which would let an audit event commit without its deletion.
        with self.acting_admin(request):
            return super().changelist_view(request, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        if not has_history(self.model):
            return admin.ModelAdmin.history_view(self, request, object_id, extra_context)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """simple-history's "revert to this version" page. It saves a POST for anyone who may
        merely view the record, so writes are checked here."""
        if not has_history(self.model):
            raise Http404
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        with self.acting_admin(request):
            return super().history_form_view(request, object_id, version_id, extra_context)

    # --- writes: history names the admin; the audit event says what changed -------------------

    def is_secret(self, name: str) -> bool:
        return name in self.secret_fields or any(word in name for word in _SECRET_WORDS)

    def _stored_values(self, obj) -> dict[str, Any]:
        row = type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None
        return {} if row is None else {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}

    def _changes(self, before: dict[str, Any], obj) -> dict[str, dict[str, Any]]:
        changes = {}
        for field in obj._meta.concrete_fields:
            old, new = before.get(field.attname), getattr(obj, field.attname)
            if old == new:
                continue
            if self.is_secret(field.name):
                changes[field.name] = {"from": MASK, "to": MASK}
            else:
                changes[field.name] = {"from": old, "to": new}
        return changes

    def save_model(self, request, obj, form, change):
        before = self._stored_values(obj) if change else {}
        history_stamp(obj, Actor.for_user(request.user))
        super().save_model(request, obj, form, change)
        obj._portal_admin_changes = self._changes(before, obj)

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields (a user's roles) are saved here, after save_model: say what moved.
        obj = form.instance
        related = [f for f in obj._meta.many_to_many if f.name in form.cleaned_data]
        before = {f.name: self._members(obj, f.name) for f in related} if change else {}
        super().save_related(request, form, formsets, change)
        changes = getattr(obj, "_portal_admin_changes", {})
        for field in related:
            after = self._members(obj, field.name)
            if before.get(field.name, []) != after:
                changes[field.name] = {"from": before.get(field.name, []), "to": after}
        obj._portal_admin_changes = changes

    @staticmethod
    def _members(obj, name: str) -> list[str]:
        return sorted(str(member) for member in getattr(obj, name).all())

    def delete_model(self, request, obj):
        history_stamp(obj, Actor.for_user(request.user))
        obj.delete()

    def _audit(self, request, obj, verb: str, details: dict[str, Any]) -> None:
        audit_event_record(action=f"admin.{obj._meta.model_name}.{verb}", target=obj, actor=request.user,
                           details=details)

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "added", {"message": message,
                                            "changes": getattr(obj, "_portal_admin_changes", {})})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "changed", {"message": message,
                                              "changes": getattr(obj, "_portal_admin_changes", {})})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "deleted", {"repr": str(obj)})
        return super().log_deletions(request, queryset)


class ReadOnlyInline:
    """An inline shown on a PortalAdmin page but never written through it."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
