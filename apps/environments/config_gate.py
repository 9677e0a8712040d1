"""The gate rule `environments.config` (registered in apps.py ready(); declared in
settings.GATE_EXPECTED_RULES). Three queries at most, two without a previous environment:

1. open drift findings on `must_match` keys of the service in the target or previous environment;
2. the target environment: whether the service has an approved baseline there, and its parity
   precision (EnvironmentConfigPolicy; `minor` without one);
3. the latest observed runtimes of the service in both environments (ConfigState).

Codes:
- `config_drift` (deny, overridable): an unauthorised configuration difference is open.
- `config_baseline_missing` (warn): nothing approved to compare the target environment with.
- `runtime_parity` (deny, overridable): a runtime observed in both environments differs at the
  target environment's precision (`major`: 17 vs 21; `minor`: 17.0 vs 17.1; `patch`: exact
  numbers). A runtime observed in only one of them is not compared (nothing to compare with;
  the staleness check asks for observations).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Subquery

from apps.catalog.models import Environment
from apps.delivery.gate_rules import DENY, WARN, GateContext, GateRule, Reason

from .models.config import ConfigBaseline, ConfigState, DriftFinding, EnvironmentConfigPolicy, ParityPrecision

RULE_NAME = "environments.config"
SHOWN_KEYS = 5
_PARTS = {ParityPrecision.MAJOR: 1, ParityPrecision.MINOR: 2, ParityPrecision.PATCH: 3}
_NUMBER = re.compile(r"\d+")


def version_at(version: str, precision: str) -> tuple:
    """The part of a version that counts at a precision: "17.0.9" at minor is (17, 0). A version
    without numbers counts as a whole."""
    numbers = [int(n) for n in _NUMBER.findall(version)]
    if not numbers:
        return (version,)
    parts = _PARTS.get(precision, 2)
    if precision == ParityPrecision.PATCH:
        return tuple(numbers)  # exact: 17.0.9 and 17.0.9.1 differ
    return tuple((numbers + [0] * parts)[:parts])


def runtime_differences(target: dict[str, str], previous: dict[str, str], precision: str) -> list[str]:
    return [f"{name} {target[name]} here, {previous[name]} in the previous environment"
            for name in sorted(set(target) & set(previous))
            if version_at(target[name], precision) != version_at(previous[name], precision)]


def check(ctx: GateContext) -> Iterable[Reason]:
    env_ids = [ctx.environment.pk] + ([ctx.previous_environment_id] if ctx.previous_environment_id else [])
    reasons: list[Reason] = []
    drift = list(DriftFinding.objects.filter(service=ctx.service, environment_id__in=env_ids,
                                             status=DriftFinding.Status.OPEN, must_match=True)
                 .order_by("environment_id", "key").values_list("environment_id", "key"))
    if drift:
        names = {ctx.environment.pk: ctx.environment.slug, ctx.previous_environment_id: ctx.previous_environment_slug}
        shown = ", ".join(f"{key} ({names.get(env_id, env_id)})" for env_id, key in drift[:SHOWN_KEYS])
        more = f" and {len(drift) - SHOWN_KEYS} more" if len(drift) > SHOWN_KEYS else ""
        reasons.append(("config_drift", DENY, f"Open configuration drift on must-match settings of {ctx.service}: "
                                              f"{shown}{more}. Revert it or accept it with an approved change."))
    target = (Environment.objects.filter(pk=ctx.environment.pk).annotate(
        has_baseline=Exists(ConfigBaseline.objects.filter(service=ctx.service, environment=OuterRef("pk"),
                                                          status=ConfigBaseline.Status.APPROVED)),
        precision=Subquery(EnvironmentConfigPolicy.objects.filter(environment=OuterRef("pk"))
                           .values("parity_precision")[:1]))
        .values("has_baseline", "precision").first()) or {"has_baseline": False, "precision": None}
    if not target["has_baseline"]:
        reasons.append(("config_baseline_missing", WARN,
                        f"{ctx.service} has no approved configuration baseline in {ctx.environment.slug}: "
                        "its configuration is not compared."))
    if ctx.previous_environment_id:
        runtimes = dict(ConfigState.objects.filter(service=ctx.service, environment_id__in=env_ids)
                        .values_list("environment_id", "runtimes"))
        precision = target["precision"] or ParityPrecision.MINOR
        differences = runtime_differences(runtimes.get(ctx.environment.pk) or {},
                                          runtimes.get(ctx.previous_environment_id) or {}, precision)
        if differences:
            reasons.append(("runtime_parity", DENY,
                            f"Runtimes of {ctx.service} differ from {ctx.previous_environment_slug} at {precision} "
                            f"precision: " + "; ".join(differences) + "."))
    return reasons


RULE = GateRule(name=RULE_NAME, codes={"config_drift": True, "config_baseline_missing": True, "runtime_parity": True},
                check=check, order=200)
