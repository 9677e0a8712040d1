"""The service page's configuration section: per environment the approved baseline, what was
last observed (with runtimes, flagged where they differ from the previous environment at its
parity precision), and the service's open drift findings. A fixed number of queries."""

from __future__ import annotations

from apps.catalog.models import Environment

from . import config_selectors as selectors
from .config_permissions import can_read_config
from .config_presentation import findings_rows
from .models.config import ConfigBaseline, ConfigState, EnvironmentConfigPolicy, ParityPrecision

MAX_FINDINGS = 10
_PARTS = {ParityPrecision.MAJOR: 1, ParityPrecision.MINOR: 2, ParityPrecision.PATCH: 3}


def parity_key(version: str, precision: str) -> tuple[str, ...]:
    """The part of a runtime version the environment's parity precision compares."""
    return tuple(str(version).split(".")[:_PARTS.get(precision, 2)])


def runtime_columns(environments, states: dict[int, ConfigState], precisions: dict[int, str]) -> list[dict]:
    """Per environment (in order): its runtimes, each flagged when the previous environment ran
    another version of it at this environment's precision."""
    columns, previous = [], None
    for env in environments:
        state = states.get(env.pk)
        runtimes = dict(sorted((state.runtimes or {}).items())) if state else {}
        before = (states[previous.pk].runtimes or {}) if previous is not None and previous.pk in states else {}
        precision = precisions.get(env.pk, ParityPrecision.MINOR)
        rows = []
        for name, version in runtimes.items():
            differs = name in before and parity_key(before[name], precision) != parity_key(version, precision)
            rows.append({"name": name, "version": version, "differs": differs,
                         "previous": before.get(name) if differs else None})
        columns.append({"environment": env, "state": state, "runtimes": rows, "previous": previous,
                        "precision": precision})
        previous = env
    return columns


def sections(request, service) -> list[dict]:
    if not can_read_config(request.user):
        return []
    environments = list(Environment.objects.order_by("order"))
    baselines: dict[int, dict[str, int]] = {}
    for environment_id, status, version in (ConfigBaseline.objects.filter(
            service=service, status__in=[ConfigBaseline.Status.APPROVED, ConfigBaseline.Status.PROPOSED])
            .values_list("environment_id", "status", "version")):
        baselines.setdefault(environment_id, {})[status] = version
    states = {s.environment_id: s for s in ConfigState.objects.filter(service=service)}
    precisions = dict(EnvironmentConfigPolicy.objects.values_list("environment_id", "parity_precision"))
    findings = list(selectors.open_findings(service=service)[:MAX_FINDINGS + 1])
    more = len(findings) > MAX_FINDINGS
    columns = runtime_columns(environments, states, precisions)
    for column in columns:
        column["baseline"] = baselines.get(column["environment"].pk, {})
    if not baselines and not states and not findings:
        return []
    return [{"title": "Configuration", "template": "environments/config/sections/service.html", "order": 35,
             "data": {"columns": columns, "findings": findings_rows(findings[:MAX_FINDINGS]), "more": more}}]
