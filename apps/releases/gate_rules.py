"""The gate rule `releases.dependencies` (apps/delivery/gate_rules.py).

When the deployment's change belongs to an active release, every service the release's plan puts
before this one must already have reached the target environment with the release's version:
a succeeded deployment, to that environment, of that service's change in the same release (its
artifact is the release's version of the service). Otherwise `dependency_not_deployed` (deny;
an emergency override may waive it). Two queries: the release link with its stored plan, then the
prerequisites deployed."""

from __future__ import annotations

from apps.delivery.gate_rules import DENY, GateContext, GateRule
from apps.delivery.models import Deployment

from .models import ReleaseChange
from .services import ACTIVE_STATES

CODE = "dependency_not_deployed"


def check(context: GateContext):
    if context.change is None:
        return []
    link = (ReleaseChange.objects.filter(change_id=context.change.pk, release__state__in=ACTIVE_STATES)
            .values("release_id", "release__name", "release__plan").first())
    if link is None:
        return []
    plan = link["release__plan"] or {}
    first = set(plan.get("before", {}).get(str(context.service.pk), []))
    if not first:
        return []
    deployed = set(Deployment.objects.filter(
        environment_id=context.environment.pk, status=Deployment.Status.SUCCEEDED, service_id__in=first,
        change__release_links__release_id=link["release_id"]).values_list("service_id", flat=True).distinct())
    missing = sorted(plan.get("slugs", {}).get(str(pk), str(pk)) for pk in first - deployed)
    if not missing:
        return []
    return [(CODE, DENY, f"The release {link['release__name']} deploys {', '.join(missing)} before "
                         f"{context.service.slug}: not yet on {context.environment.slug} with the release's version.")]


RULE = GateRule(name="releases.dependencies", codes={CODE: True}, check=check)
