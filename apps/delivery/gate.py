"""The deployment gate's rules, evaluated in one place. Reads only: recording the decision and
taking the deployment lock are `services.gate_check`'s job.

Each reason is `{"code", "message", "severity"}`; severity `deny` blocks, `warn` informs. An
active emergency override turns the overridable denials into warnings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from apps.catalog.privileges import DEPLOYER, holds_privilege
from apps.changes.selectors import (
    active_emergency_override,
    change_is_deployable,
    schedule_blockers,
)

from . import licenses, resource_locks
from .gate_rules import GateContext, rule_codes, run_rules
from .models import EnvironmentPolicy, SignatureStatus

DENY = "deny"
WARN = "warn"

# Reasons an emergency override may waive. The rest (who deploys, which artifact, whether it
# is genuine, whether the slot is free, whether the change is for this service) never bend.
# Rules registered by other apps (gate_rules.py) say for each of their codes.
OVERRIDABLE = {
    "change_not_approved", "outside_maintenance_window", "freeze_active", "artifact_unsigned", "tests_failed",
    "vulnerabilities_over_threshold", "license_violation", "provenance_missing", "not_promoted",
}
REASON_CODES = [
    "deployer_not_authorized", "change_not_approved", "change_service_mismatch", "outside_maintenance_window",
    "freeze_active", "artifact_unknown", "artifact_unsigned", "signature_invalid", "tests_failed",
    "vulnerabilities_over_threshold", "license_violation", "provenance_missing", "not_promoted",
    "deployment_in_progress", "format_not_allowed", "resource_locked",
]


def all_reason_codes() -> list[str]:
    """Delivery's own reason codes, then those of the registered rules of other apps."""
    return [*REASON_CODES, *sorted(set(rule_codes()) - set(REASON_CODES))]


def overridable(code: str) -> bool:
    return code in OVERRIDABLE or rule_codes().get(code, False)
DEFAULT_POLICY = EnvironmentPolicy(lock_timeout_minutes=60)


@dataclass
class Verdict:
    reasons: list[dict[str, str]] = field(default_factory=list)
    override: Any = None

    def deny(self, code: str, message: str) -> None:
        self.reasons.append({"code": code, "message": message, "severity": DENY})

    def warn(self, code: str, message: str) -> None:
        self.reasons.append({"code": code, "message": message, "severity": WARN})

    @property
    def allowed(self) -> bool:
        return not any(r["severity"] == DENY for r in self.reasons)


def policy_for(environment) -> EnvironmentPolicy:
    try:
        return environment.delivery_policy
    except EnvironmentPolicy.DoesNotExist:
        return DEFAULT_POLICY


# Everything the gate reads about the slot and the artifact, in one round trip: whether the slot
# is busy (a live lock, or a deployment still running within the lock timeout: served by the
# partial index deploy_running_idx), the previous environment and whether the artifact reached it,
# and the artifact's evidence summaries (one row each, newest first; one row of NULLs without).
# Hand-written because the ORM spent more time building this statement than the database did
# running it. Plain SQL: the same text runs on PostgreSQL and SQLite.
_FACTS_SQL = """
SELECT
  (EXISTS (SELECT 1 FROM delivery_deploymentlock l
           WHERE l.service_id = %(service)s AND l.environment_id = %(environment)s AND l.expires_at > %(at)s)
   OR EXISTS (SELECT 1 FROM delivery_deployment r
              WHERE r.service_id = %(service)s AND r.environment_id = %(environment)s
                AND r.status IN ('started', 'in_progress') AND r.started_at >= %(running_since)s)),
  p.id, p.slug,
  EXISTS (SELECT 1 FROM delivery_deployment d
          WHERE d.artifact_id = %(artifact)s AND d.environment_id = p.id AND d.status = 'succeeded' {promoted_since}),
  e.kind, e.summary
FROM (SELECT 1 AS one) o
LEFT JOIN (SELECT id, slug FROM catalog_environment WHERE "order" < %(order)s ORDER BY "order" DESC LIMIT 1) p
  ON 1 = 1
LEFT JOIN delivery_evidence e ON e.artifact_id = %(artifact)s AND e.kind NOT IN ('log', 'other')
ORDER BY e.created_at DESC, e.id DESC
"""
_PROMOTED_SINCE = ("AND (d.finished_at >= %(promoted_since)s"
                   " OR (d.finished_at IS NULL AND d.started_at >= %(promoted_since)s))")


@dataclass
class Facts:
    busy: bool
    previous_id: int | None
    previous_slug: str | None
    promoted: bool
    evidence: list[dict]  # {"kind", "summary"}, newest first, logs and other files left out


def read_facts(*, service, environment, at: datetime, policy: EnvironmentPolicy, artifact=None) -> Facts:
    days = policy.promotion_max_age_days
    adapt = connection.ops.adapt_datetimefield_value
    params = {"service": service.pk, "environment": environment.pk, "at": adapt(at), "order": environment.order,
              "running_since": adapt(at - timedelta(minutes=policy.lock_timeout_minutes)),
              "artifact": artifact.pk if artifact is not None else 0}
    if days:
        params["promoted_since"] = adapt(at - timedelta(days=days))
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_SQL.format(promoted_since=_PROMOTED_SINCE if days else ""), params)
        rows = cursor.fetchall()
    busy, previous_id, previous_slug, promoted = rows[0][:4]
    evidence = [{"kind": kind, "summary": json.loads(summary) if isinstance(summary, str) else summary}
                for *_, kind, summary in rows if kind is not None]
    return Facts(busy=bool(busy), previous_id=previous_id, previous_slug=previous_slug, promoted=bool(promoted),
                 evidence=evidence)


def _latest_by_kind(evidence: list[dict]) -> dict[str, list[dict]]:
    """Newest document per kind (per tool for scans): a re-run replaces, it does not add up."""
    seen: set[tuple] = set()
    latest: dict[str, list[dict]] = {}
    for row in evidence:  # newest first
        summary = row["summary"] or {}
        key = (row["kind"], tuple(summary.get("tools") or ()))
        if key in seen:
            continue
        seen.add(key)
        latest.setdefault(row["kind"], []).append(summary)
    return latest


def _check_evidence(verdict: Verdict, rows: list[dict], policy: EnvironmentPolicy) -> None:
    latest = _latest_by_kind(rows)
    if policy.tests_must_pass:
        junit = latest.get("junit")
        if not junit:
            verdict.deny("tests_failed", "No test results (JUnit) are attached to this artifact.")
        else:
            result = junit[0]
            if result.get("failures") or result.get("errors") or not result.get("tests"):
                verdict.deny("tests_failed", f"Tests did not pass: {result.get('failures', 0)} failed, "
                                             f"{result.get('errors', 0)} errors of {result.get('tests', 0)}.")
    if policy.max_critical is not None or policy.max_high is not None:
        critical = high = 0
        for kind in ("sarif", "cyclonedx"):
            for summary in latest.get(kind, []):
                by_severity = summary.get("by_severity") or {}
                critical += int(by_severity.get("critical", 0))
                high += int(by_severity.get("high", 0))
        over = []
        if policy.max_critical is not None and critical > policy.max_critical:
            over.append(f"{critical} critical (at most {policy.max_critical})")
        if policy.max_high is not None and high > policy.max_high:
            over.append(f"{high} high (at most {policy.max_high})")
        if over:
            verdict.deny("vulnerabilities_over_threshold", "Unsuppressed findings over the threshold: "
                         + ", ".join(over) + ".")
    sboms = latest.get("cyclonedx", []) + latest.get("spdx", [])
    if sboms and (policy.license_deny or policy.license_allow):
        expressions: dict[str, int] = {}
        unknown = 0
        for summary in sboms:
            for expression, count in (summary.get("expressions") or {}).items():
                expressions[expression] = expressions.get(expression, 0) + count
            unknown += int(summary.get("unknown", 0))
        refused = licenses.evaluate(expressions, deny=policy.license_deny, allow=policy.license_allow)
        if refused:
            verdict.deny("license_violation", "Licences refused by the policy: " + ", ".join(sorted(refused)[:10]) + ".")
        if unknown:
            verdict.warn("license_unknown", f"{unknown} components have no known licence.")
    if policy.provenance_required and not latest.get("slsa_provenance"):
        verdict.deny("provenance_missing", "No SLSA provenance naming this artifact's digest is attached.")


def _check_promotion(verdict: Verdict, *, artifact, facts: Facts, policy) -> None:
    if facts.previous_id is None or facts.promoted:
        return
    days = policy.promotion_max_age_days
    within = f" within the last {days} days" if days else ""
    verdict.deny("not_promoted", f"{artifact.version} has not been deployed successfully to "
                                 f"{facts.previous_slug}{within}.")


def evaluate(*, user, service, environment, artifact, artifact_ref: str, change, change_ref: str,
             at: datetime, pipeline_template: str = "", pipeline_template_version: str = "",
             shared_resources: Sequence[Any] = ()) -> Verdict:
    verdict = Verdict()
    policy = policy_for(environment)
    facts = read_facts(service=service, environment=environment, at=at, policy=policy, artifact=artifact)
    if environment.is_production and not holds_privilege(user, DEPLOYER, service, environment):
        verdict.deny("deployer_not_authorized", f"{user.get_username()} does not hold the deployer privilege "
                                                f"for {service.slug} in {environment.slug}.")
    if change is None:
        if change_ref:
            verdict.deny("change_not_approved", f"No change request {change_ref} exists.")
        elif environment.is_production:
            verdict.deny("change_not_approved", "A production deployment needs an approved change request.")
    else:
        if change.service_id != service.id or change.environment_id != environment.id:
            verdict.deny("change_service_mismatch", f"{change.number} is for {change.service.slug} in "
                                                    f"{change.environment.slug}, not {service.slug} in {environment.slug}.")
        # The changes app decides; the approval record is asked on its own as well, so no state
        # name (a change pushed to `scheduled` without its approvals) stands in for approval.
        if not change_is_deployable(change):
            verdict.deny("change_not_approved", f"{change.number} is not approved: its mandatory approval stages "
                                                "are not all approved on its current content.")
    for code, message in schedule_blockers(service=service, environment=environment, at=at, change=change):
        verdict.deny(code, message)
    if artifact is None:
        verdict.deny("artifact_unknown", f"No artifact {artifact_ref or '(none given)'} is registered for {service.slug}.")
    else:
        if artifact.signature_status == SignatureStatus.INVALID:
            verdict.deny("signature_invalid", "The artifact's signature does not verify with any of the team's keys.")
        elif policy.require_signature and artifact.signature_status != SignatureStatus.VALID:
            verdict.deny("artifact_unsigned", f"{environment.slug} requires signed artifacts; this one is unsigned.")
        if policy.allowed_formats and artifact.format not in policy.allowed_formats:
            # Not overridable: an emergency does not make a package format the platform cannot run.
            verdict.deny("format_not_allowed", f"{environment.slug} accepts {', '.join(policy.allowed_formats)} "
                                               f"artifacts only; this one is {artifact.format}.")
        _check_evidence(verdict, facts.evidence, policy)
        _check_promotion(verdict, artifact=artifact, facts=facts, policy=policy)
    if facts.busy:
        verdict.deny("deployment_in_progress", f"Another deployment of {service.slug} to {environment.slug} "
                                               "is in progress.")
    # Never overridable: an emergency does not make two migrations of one database safe.
    for lock in resource_locks.holders(shared_resources, at=at):
        verdict.deny("resource_locked", resource_locks.held_message(lock))
    verdict.reasons.extend(run_rules(GateContext(
        user=user, service=service, environment=environment, artifact=artifact, change=change, at=at,
        previous_environment_id=facts.previous_id, previous_environment_slug=facts.previous_slug,
        evidence=tuple(facts.evidence),
        pipeline_template=pipeline_template, pipeline_template_version=pipeline_template_version,
    )))
    denials = [r for r in verdict.reasons if r["severity"] == DENY]
    if denials and change is not None and all(overridable(r["code"]) for r in denials):
        override = active_emergency_override(change)
        if override is not None:
            verdict.override = override
            for reason in denials:
                reason["severity"] = WARN
            verdict.warn("emergency_override", f"Allowed under the emergency override of {change.number}: "
                                               + ", ".join(r["code"] for r in denials) + " waived.")
    return verdict
