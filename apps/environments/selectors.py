"""Reads about environments, each a fixed number of queries whatever the history's length."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.catalog.models import Environment
from apps.delivery.models import Evidence

from .models import AppliedMigration, MigrationMismatch, Provision, ProvisionResource


def provisions_list() -> QuerySet[Provision]:
    return Provision.objects.select_related("environment", "change", "created_by").order_by("-created_at", "-id")


def provision_detail(pk: int) -> Provision | None:
    return (Provision.objects.select_related("environment", "change", "created_by")
            .prefetch_related(Prefetch("resources", queryset=ProvisionResource.objects.order_by("id")))
            .filter(pk=pk).first())


def applied_migrations_list() -> QuerySet[AppliedMigration]:
    return AppliedMigration.objects.select_related("service", "environment").order_by("-applied_at", "-id")


def declared_migrations(artifact_ids) -> dict[int, dict]:
    """The newest `migrations` evidence summary of each artifact: {artifact id: summary}."""
    found: dict[int, dict] = {}
    for artifact_id, summary in (Evidence.objects.filter(artifact_id__in=artifact_ids, kind="migrations")
                                 .order_by("-created_at", "-id").values_list("artifact_id", "summary")):
        found.setdefault(artifact_id, summary or {})
    return found


def where_migrations_ran(service_ids, versions) -> dict[tuple[int, str], list[AppliedMigration]]:
    """Applied rows (success and failed) of these versions per (service, version), in promotion order."""
    rows: dict[tuple[int, str], list[AppliedMigration]] = {}
    for row in (AppliedMigration.objects.filter(service_id__in=service_ids, version__in=versions)
                .select_related("environment").order_by("environment__order", "applied_at", "id")):
        rows.setdefault((row.service_id, row.version), []).append(row)
    return rows


def migration_mismatches(environment: Environment | None = None) -> QuerySet[MigrationMismatch]:
    qs = MigrationMismatch.objects.select_related("service", "environment")
    return qs.filter(environment=environment) if environment is not None else qs
