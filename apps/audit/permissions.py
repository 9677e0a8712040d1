"""Who may see what in the audit app. Used by the HTML views and the API alike."""

from __future__ import annotations

from django.http import Http404

from apps.accounts.permissions import is_portal_member
from apps.accounts.roles import AUDITOR


def can_view_audit_log(user) -> bool:
    return is_portal_member(user) and (user.is_superuser or user.has_role(AUDITOR))


def can_use_evidence_packs(user) -> bool:
    """Request, list and download evidence packs: auditors (and superusers) only. Service
    accounts never, whatever their token says."""
    if user is None or getattr(user, "is_service_account", False):
        return False
    return can_view_audit_log(user)


def can_view_retention(user) -> bool:
    return can_view_audit_log(user) or can_manage_retention(user)


def can_manage_retention(user) -> bool:
    """Retention policies and legal holds: superusers and holders of audit.manage_retention."""
    if not is_portal_member(user) or getattr(user, "is_service_account", False):
        return False
    return user.is_superuser or user.has_perm("audit.manage_retention")


def evidence_packs_for(user):
    from .models import EvidencePack

    if not can_use_evidence_packs(user):
        return EvidencePack.objects.none()
    return EvidencePack.objects.select_related("requested_by", "signing_key")


def get_pack_for_user(user, pk):
    """The pack, or 404 for anyone who may not see packs (they must not learn it exists)."""
    from .models import EvidencePack

    try:
        return evidence_packs_for(user).get(pk=int(pk))
    except (ValueError, TypeError, EvidencePack.DoesNotExist) as exc:
        raise Http404("No such evidence pack.") from exc
