"""Guardian object permissions derived from grants: the one place they are written.

`permissions_sync(user=, service=)` makes the permissions on (user, service) match the grants:
a permission exists exactly while the user holds at least one active, unexpired grant of that
privilege on that service for a production environment. Every grant service calls it."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from guardian.models import UserObjectPermission

from apps.catalog.models import Service
from apps.catalog.privileges import PERMISSION_FOR

from .models import AccessGrant


def _permission_ids() -> dict[str, int]:
    codenames = {perm.split(".", 1)[1]: privilege for privilege, perm in PERMISSION_FOR.items()}
    rows = Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames).values_list(
        "codename", "id")
    return {codenames[codename]: pk for codename, pk in rows}


def permissions_sync(*, user, service) -> dict[str, bool]:
    """Re-derive the privilege permissions of one (user, service) pair; returns what it now holds."""
    return permissions_sync_many(pairs=[(user.pk, service.pk)])[(user.pk, service.pk)]


def permissions_sync_many(*, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], dict[str, bool]]:
    """The same for many pairs with a fixed number of queries (campaign close, expiry, demo)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    perm_ids = _permission_ids()
    privilege_by_perm = {pk: privilege for privilege, pk in perm_ids.items()}
    content_type = ContentType.objects.get_for_model(Service)
    user_ids = {u for u, _ in pairs}
    service_ids = {s for _, s in pairs}
    wanted_pairs = set(pairs)

    should: set[tuple[int, int, str]] = set()
    for user_id, service_id, privilege in (
        AccessGrant.objects.active(timezone.now()).production()
        .filter(user_id__in=user_ids, service_id__in=service_ids)
        .values_list("user_id", "service_id", "privilege")
    ):
        if (user_id, service_id) in wanted_pairs:
            should.add((user_id, service_id, privilege))

    existing: dict[tuple[int, int, str], int] = {}
    for pk, user_id, object_pk, permission_id in UserObjectPermission.objects.filter(
        content_type=content_type, permission_id__in=perm_ids.values(), user_id__in=user_ids,
        object_pk__in=[str(s) for s in service_ids],
    ).values_list("pk", "user_id", "object_pk", "permission_id"):
        key = (user_id, int(object_pk), privilege_by_perm[permission_id])
        if key[:2] in wanted_pairs:
            existing[key] = pk

    stale = [pk for key, pk in existing.items() if key not in should]
    if stale:
        UserObjectPermission.objects.filter(pk__in=stale).delete()
    missing = [key for key in should if key not in existing]
    UserObjectPermission.objects.bulk_create(
        [UserObjectPermission(user_id=u, object_pk=str(s), content_type=content_type, permission_id=perm_ids[p])
         for u, s, p in missing],
        ignore_conflicts=True,
    )
    return {(u, s): {p: (u, s, p) in should for p in PERMISSION_FOR} for u, s in pairs}
