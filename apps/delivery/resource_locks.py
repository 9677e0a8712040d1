"""Shared-resource locks: a deployment holds named resources (a database two services migrate)
beside its service × environment slot, all or none.

These are the steps `services.deployment_record` and `services.deployment_update` take inside
their own transaction; those services write the one audit event that names what was acquired or
released. The database holds the invariant: SharedResourceLock.resource is unique, so of
simultaneous deployments asking for a resource exactly one insert wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from releaseportal.errors import Conflict, InvalidInput

from .models import Deployment, SharedResource, SharedResourceLock

FIELD = "shared_resources"
MAX_RESOURCES = 20


class ResourceLocked(Conflict):
    code = "resource_locked"


def resolve(names: Iterable[str] | None) -> list[SharedResource]:
    """The resources named (by slug), in slug order, or a 400 naming the field and the unknown ones."""
    if names is None:
        return []
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise InvalidInput("shared_resources is a list of resource names.", fields={FIELD: ["expected a list of names"]})
    wanted = sorted({name.strip() for name in names if name.strip()})
    if not wanted:
        return []
    if len(wanted) > MAX_RESOURCES:
        raise InvalidInput(f"At most {MAX_RESOURCES} shared resources per deployment.",
                           fields={FIELD: [f"at most {MAX_RESOURCES}"]})
    found = list(SharedResource.objects.filter(slug__in=wanted).order_by("slug"))
    unknown = sorted(set(wanted) - {resource.slug for resource in found})
    if unknown:
        raise InvalidInput(f"Unknown shared resource{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
                           code="shared_resource_unknown", fields={FIELD: [f"unknown: {name}" for name in unknown]})
    return found


def holders(resources: Sequence[SharedResource], *, at: datetime) -> list[SharedResourceLock]:
    """The live locks on these resources, with their holding deployment (one query)."""
    if not resources:
        return []
    return list(SharedResourceLock.objects.select_related("resource", "deployment__service", "deployment__environment")
                .filter(resource__in=resources, expires_at__gt=at).order_by("resource__slug"))


def held_message(lock: SharedResourceLock) -> str:
    deployment = lock.deployment
    return (f"{lock.resource.slug} is held by deployment #{deployment.pk} ({deployment.service.slug} "
            f"{deployment.version or '?'} to {deployment.environment.slug}).")


def acquire(*, deployment: Deployment, resources: Sequence[SharedResource], at: datetime,
            timeout_minutes: int) -> list[str]:
    """Lock every resource for `deployment`, or none and raise ResourceLocked naming each held
    resource and its holder. Expired locks are cleared first. The caller's transaction keeps the
    rows until it commits; a refusal leaves nothing behind (the insert runs in a savepoint)."""
    if not resources:
        return []
    SharedResourceLock.objects.filter(resource__in=resources, expires_at__lte=at).delete()
    expires = at + timedelta(minutes=timeout_minutes)
    try:
        with transaction.atomic():
            # One statement, resources in slug order: two deployments asking for [a, b] and [b, a]
            # queue on the same row first instead of deadlocking.
            SharedResourceLock.objects.bulk_create([
                SharedResourceLock(resource=resource, deployment=deployment, acquired_at=at, expires_at=expires)
                for resource in resources])
    except IntegrityError:
        held = holders(resources, at=at)
        messages = [held_message(lock) for lock in held] or ["A simultaneous deployment took one of them first."]
        raise ResourceLocked(" ".join(messages), fields={FIELD: messages}) from None
    return [resource.slug for resource in resources]


def release(*, deployment: Deployment) -> list[str]:
    """Free what the deployment holds; the slugs released, for its audit event."""
    held = list(SharedResourceLock.objects.filter(deployment=deployment).values_list("pk", "resource__slug"))
    if held:
        SharedResourceLock.objects.filter(pk__in=[pk for pk, _ in held]).delete()
    return sorted(slug for _, slug in held)
