"""Reads of the releases app: a fixed number of queries whatever the size of a release."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone

from apps.catalog.models import Environment
from apps.delivery.models import Deployment

from . import cadence as cadence_rules
from .checkpoints import release_checkpoints
from .models import (
    Release,
    ReleaseChange,
    ReleaseService,
    ReleaseTrain,
    ScopeException,
    ScopeSignoff,
    TrainService,
)
from .services import is_scope_locked


def trains_with_services():
    """Trains with their owners and services (3 queries)."""
    return (ReleaseTrain.objects.prefetch_related(
        "owners", Prefetch("memberships", queryset=TrainService.objects.select_related("service")
                           .order_by("service__slug")))
            .order_by("name"))


def release_queryset():
    return Release.objects.select_related("train", "created_by")


@dataclass
class ReleaseView:
    release: Release
    services: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    environments: list = field(default_factory=list)
    waves: list = field(default_factory=list)  # [[{"service", "deployed": [env slugs], "done"}]]
    locked: bool = False
    checkpoints: list = field(default_factory=list)

    @property
    def scope_creep(self) -> list:
        return [link for link in self.changes if link.after_lock]


def release_view(release: Release) -> ReleaseView:
    """Everything the release page and GET /releases/{id}/ show, in six queries."""
    services = {link.service_id: link.service for link in
                ReleaseService.objects.filter(release=release).select_related("service")}
    changes = list(ReleaseChange.objects.filter(release=release)
                   .select_related("change", "change__service", "change__environment", "added_by", "exception")
                   .order_by("added_at", "pk"))
    exceptions = list(ScopeException.objects.filter(release=release).select_related("change", "requested_by")
                      .prefetch_related(Prefetch("signoffs", queryset=ScopeSignoff.objects.select_related("signer")))
                      .order_by("requested_at", "pk"))
    environments = list(Environment.objects.order_by("order"))
    reached: dict[int, set[int]] = {}
    for service_id, environment_id in (Deployment.objects.filter(
            change__release_links__release=release, status=Deployment.Status.SUCCEEDED)
            .values_list("service_id", "environment_id").distinct()):
        reached.setdefault(service_id, set()).add(environment_id)
    env_slugs = {e.pk: e.slug for e in environments}
    last = environments[-1].pk if environments else None
    waves = []
    for layer in (release.plan or {}).get("waves", []):
        row = []
        for service_id in layer:
            service = services.get(service_id)
            if service is None:
                continue
            got = reached.get(service_id, set())
            row.append({"service": service, "deployed": [env_slugs[e] for e in env_slugs if e in got],
                        "done": last is not None and last in got})
        waves.append(row)
    return ReleaseView(release=release, services=sorted(services.values(), key=lambda s: s.slug), changes=changes,
                       exceptions=exceptions, environments=environments, waves=waves,
                       locked=is_scope_locked(release), checkpoints=release_checkpoints([c.change for c in changes]))


def train_windows(train: ReleaseTrain, count: int = 3) -> list:
    return cadence_rules.next_windows(train, timezone.now(), count)
