"""Gate rules contributed by the apps above delivery (environments, validation, releases).

Delivery never imports those apps: each one registers its rules in its `AppConfig.ready()` with
`register_gate_rule`. The rules the portal must have are declared in `settings.GATE_EXPECTED_RULES`;
one that is declared but not registered is a system check error at start-up (`delivery.E001`),
and the gate itself denies (`gate_rule_missing`) while it is missing. A rule that raises denies
(`gate_rule_error`); a rule that answers a reason code it did not declare denies the same way.
The gate fails closed, never silently open.

A rule is a function of a `GateContext` returning reasons: `(code, severity, message)` tuples,
severity `deny` or `warn`. It declares every code it may answer, and for each whether an active
emergency override may waive it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import checks

from releaseportal.isolation import call_isolated

log = logging.getLogger(__name__)

DENY = "deny"
WARN = "warn"


@dataclass(frozen=True)
class GateContext:
    """What a rule may read about the deployment being asked for. `artifact` and `change` are
    None when the pipeline named none (or none exists); the previous environment is the one just
    below `environment` in the promotion order (None for the first)."""

    user: Any
    service: Any
    environment: Any
    artifact: Any
    change: Any
    at: datetime
    previous_environment_id: int | None
    previous_environment_slug: str | None
    # The artifact's evidence the gate already read: ({"kind", "summary"}, ...), newest first, logs
    # and other files left out. A rule reads a declaration here instead of querying again.
    evidence: tuple[dict, ...] = ()
    # The pipeline template and version the run reported ("" when it named none).
    pipeline_template: str = ""
    pipeline_template_version: str = ""


Reason = tuple[str, str, str]  # (code, severity, message)


@dataclass(frozen=True)
class GateRule:
    name: str  # "<app label>.<rule>", as listed in settings.GATE_EXPECTED_RULES
    codes: Mapping[str, bool]  # every reason code the rule may answer -> may an emergency override waive it
    check: Callable[[GateContext], Iterable[Reason]]
    order: int = 100


_RULES: dict[str, GateRule] = {}


def register_gate_rule(rule: GateRule) -> None:
    """Called from an app's `ready()`. Registering the same name twice replaces (reloads in tests
    call ready() again); two rules may not claim one reason code."""
    for other in _RULES.values():
        if other.name != rule.name and set(other.codes) & set(rule.codes):
            raise ValueError(f"gate rule {rule.name} claims reason codes of {other.name}: "
                             f"{sorted(set(other.codes) & set(rule.codes))}")
    _RULES[rule.name] = rule


def unregister_gate_rule(name: str) -> GateRule | None:
    """For tests that prove the portal fails closed without a rule."""
    return _RULES.pop(name, None)


def registered_gate_rules() -> list[GateRule]:
    return sorted(_RULES.values(), key=lambda rule: (rule.order, rule.name))


def expected_gate_rules() -> list[str]:
    return list(getattr(settings, "GATE_EXPECTED_RULES", []))


def rule_codes() -> dict[str, bool]:
    """Every reason code the registered rules may answer -> overridable."""
    codes: dict[str, bool] = {}
    for rule in _RULES.values():
        codes.update(rule.codes)
    return codes


def run_rules(context: GateContext) -> list[dict[str, str]]:
    """Every registered rule's reasons, as the gate records them; plus a denial for each expected
    rule that is missing and each rule that failed."""
    reasons: list[dict[str, str]] = []
    for name in expected_gate_rules():
        if name not in _RULES:
            reasons.append({"code": "gate_rule_missing", "severity": DENY,
                            "message": f"The gate rule {name} is required by the settings but not installed."})
    for rule in registered_gate_rules():
        try:
            answered = list(call_isolated(rule.check, context))
        except Exception:
            log.exception("gate rule %s failed", rule.name)
            reasons.append({"code": "gate_rule_error", "severity": DENY,
                            "message": f"The gate rule {rule.name} could not be evaluated."})
            continue
        for code, severity, message in answered:
            if code not in rule.codes or severity not in (DENY, WARN):
                log.error("gate rule %s answered an undeclared reason %r/%r", rule.name, code, severity)
                reasons.append({"code": "gate_rule_error", "severity": DENY,
                                "message": f"The gate rule {rule.name} answered an undeclared reason."})
                continue
            reasons.append({"code": code, "severity": severity, "message": message})
    return reasons


@checks.register(checks.Tags.compatibility)
def check_expected_gate_rules(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for name in expected_gate_rules():
        if name not in _RULES:
            errors.append(checks.Error(
                f"Gate rule {name!r} is declared in settings.GATE_EXPECTED_RULES but no installed app registers it.",
                hint="Install the app that provides it (its AppConfig.ready() registers the rule); the gate "
                     "denies every deployment while it is missing.",
                id="delivery.E001",
            ))
    return errors
