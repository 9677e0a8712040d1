"""Configuration records in the admin: read-only. Baselines change only with an approved change,
observations come from pipelines, findings are resolved through the portal (config_services)."""

from django.contrib import admin

from apps.audit.admin_base import PortalAdmin

from .models.config import (
    ConfigBaseline,
    ConfigObservation,
    ConfigState,
    DriftFinding,
    EnvironmentConfigPolicy,
)


@admin.register(ConfigBaseline)
class ConfigBaselineAdmin(PortalAdmin):
    list_display = ["service", "environment", "version", "status", "change", "approved_by", "approved_at"]
    list_filter = ["status", "environment"]
    search_fields = ["service__slug", "change__number"]


@admin.register(ConfigObservation)
class ConfigObservationAdmin(PortalAdmin):
    list_display = ["service", "environment", "source", "observed_at", "deployment"]
    list_filter = ["source", "environment"]
    search_fields = ["service__slug"]


@admin.register(ConfigState)
class ConfigStateAdmin(PortalAdmin):
    list_display = ["service", "environment", "last_observed_at", "stale_since"]


@admin.register(DriftFinding)
class DriftFindingAdmin(PortalAdmin):
    list_display = ["reference", "service", "environment", "key", "kind", "status", "must_match", "first_seen",
                    "last_seen", "resolution"]
    list_filter = ["status", "kind", "must_match", "environment"]
    search_fields = ["service__slug", "key"]


@admin.register(EnvironmentConfigPolicy)
class EnvironmentConfigPolicyAdmin(PortalAdmin):
    list_display = ["environment", "max_hours_without_observation", "parity_precision"]
