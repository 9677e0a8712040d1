"""Configuration baselines, observations and drift: every write (issue #13, API.md "Environments
and configuration").

Baselines. `baseline_propose` records the next version of the settings of a service in an
environment, tied to a change request of that same service and environment, filed while the
change is still undecided (a draft, or in review before any approval), so its reviewers decide
on it. Change types have no category field; what marks a configuration type is
`requires_peer_review` ("peer review even when a pipeline applies the change", the seeded
"Configuration" type). An emergency change may carry a baseline too (a configuration hotfix), but
approves it only with its retrospective approval. A pre-approved standard type never does (it
would approve any settings without review). Peer review is whatever the type's workflow asks.

How a proposal becomes approved: the changes app cannot import environments, so changes runs the
callbacks registered with `apps.changes.approval_hooks` inside the very transaction that approves
the change (change_transition to `approved`, and an emergency change's retro-approval).
`baseline_approve_for_change` is registered there (apps.py ready()). It re-checks the approval
record (apps.changes.selectors.approval_status: every mandatory stage approved on the change's
current content, or no stage applies) and then, row-locked: the previous approved version becomes
`superseded`, the proposal `approved`, with `approved_by` (the approver whose decision completed
it), `approved_at` and `approvers` (everyone whose live approval backed it), a history row and one
audit event each. Stamping at approval, not lazily at read time, keeps "who approved which
version, when" a fact recorded once in the same transaction as the approval, never recomputed
from approvals that may later be voided. If the callback fails, the approval rolls back with it
(fail closed). A change approved by an emergency override alone approves no baseline until its
retro-approval.

Secrets. A clear secret in a proposal (apps.environments.secrets.is_clear_secret) is refused
with 400 `secret_value_refused` naming the key in `fields` (`settings.KEY`) before anything is
written; no error message, audit detail or log line repeats a value.

Observations. `observation_record` keeps references and ordinary values as they are, and the
clear value of a secret key (marked secret in the baseline, named like one, or flagged by the
detector) only as its SHA-256 fingerprint. Comparison with the approved baseline, key by key:

- a key of the baseline not observed: `missing`; an observed key not in the baseline:
  `unexpected`; a different value: `changed`;
- a reference is compared with the baseline's reference as a string;
- a fingerprint (the observer reported a resolved value) is compared with the fingerprint the
  baseline records for that key (`"fingerprint"`, the SHA-256 of the resolved value, optional in
  the PUT), or with the fingerprint of the baseline's plain value. A resolved secret against a
  baseline that records no fingerprint is `changed`: nothing proves it is the referenced secret
  (fail closed; record the fingerprint in the baseline to compare resolved values).

Every difference is a finding (one open DriftFinding per service × environment × key, updated by
later observations); only differences on `must_match` keys are gate-relevant (`config_drift`).
Without an approved baseline nothing is compared (the gate warns `config_baseline_missing`).
A finding first seen in an observation names the observation's deployment, or else the latest
deployment of that service to that environment started within ATTRIBUTION_MINUTES before it.
A later observation without the difference records itself as `cleared_by` on the finding: the
evidence a person needs to resolve it as `reverted` (drift stays open until a person resolves it:
an unauthorised change is acknowledged, not forgotten). Observations of one service ×
environment are serialised on their ConfigState row, so two at once never duplicate a finding.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.audit.history import atomic_as, history_copy_rows, history_stamp
from apps.audit.services import audit_event_record
from apps.changes.models import ChangeRequest, ChangeState
from apps.changes.selectors import approval_status
from apps.changes.workflow import OVERALL_APPROVED, OVERALL_NOT_REQUIRED, live_approvals
from apps.delivery.models import Deployment
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, Unprocessable

from . import secrets
from .config_permissions import can_observe, can_propose_baseline, can_resolve_drift
from .models.config import (
    ConfigBaseline,
    ConfigObservation,
    ConfigState,
    DriftFinding,
    EnvironmentConfigPolicy,
    ParityPrecision,
)

ATTRIBUTION_MINUTES = 60
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_KEYS = 5000
MAX_VALUE_LENGTH = 4000
MAX_SHOWN = 500
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,199}$")
RUNTIME_PATTERN = re.compile(r"^[A-Za-z0-9_.+\-]{1,40}$")
UNDECIDED_STATES = {ChangeState.DRAFT, ChangeState.IN_REVIEW}
CLOSED_CHANGE_STATES = {ChangeState.REJECTED, ChangeState.CANCELLED, ChangeState.CLOSED}
ACTION_BASELINE_PROPOSED = "config.baseline.proposed"
ACTION_BASELINE_APPROVED = "config.baseline.approved"
ACTION_BASELINE_WITHDRAWN = "config.baseline.withdrawn"
ACTION_OBSERVATION = "config.observation.recorded"
ACTION_DRIFT_RESOLVED = "config.drift.resolved"
ACTION_STALE_FLAGGED = "config.observation.stale_flagged"
ACTION_POLICY_SET = "config.policy.set"


# --- shared -------------------------------------------------------------------------------------

def _lock_state(service, environment) -> ConfigState:
    """The per service × environment row every configuration write of that pair locks first."""
    state = ConfigState.objects.select_for_update().filter(service=service, environment=environment).first()
    if state is not None:
        return state
    try:
        with transaction.atomic():
            ConfigState.objects.create(service=service, environment=environment)
    except IntegrityError:
        pass  # created by a simultaneous writer: lock theirs
    return ConfigState.objects.select_for_update().get(service=service, environment=environment)


def _shown(value: str) -> str:
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN - 1] + "…"


def _setting_field(key: str) -> str:
    return f"settings.{key}"


# --- baselines ----------------------------------------------------------------------------------

def _clean_baseline_settings(raw: Any) -> dict[str, dict[str, Any]]:
    """The proposal's settings, validated; a clear secret refused naming only its key."""
    if not isinstance(raw, dict):
        raise InvalidInput("settings must be an object of KEY: {value, secret, must_match}.",
                           fields={"settings": ["An object keyed by setting name."]})
    if len(raw) > MAX_KEYS:
        raise InvalidInput(f"At most {MAX_KEYS} settings.", fields={"settings": [f"At most {MAX_KEYS} keys."]})
    refused: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, dict[str, Any]] = {}
    for key, entry in raw.items():
        field = _setting_field(key) if isinstance(key, str) and len(key) <= 200 else "settings"
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors.setdefault("settings", []).append("Setting names are letters, digits, _ . - / (at most 200).")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            errors[field] = ["Give {\"value\": string, \"secret\": bool, \"must_match\": bool}."]
            continue
        secret, must_match = entry.get("secret", False), entry.get("must_match", False)
        if not isinstance(secret, bool) or not isinstance(must_match, bool):
            errors[field] = ["secret and must_match are true or false."]
            continue
        value = entry["value"]
        # Refused before any other check that might echo the value.
        if secrets.is_clear_secret(key, value, marked_secret=secret):
            refused[field] = ["A secret must be a reference (vault://, ssm:, aws-sm://, azure-kv://, gcp-sm://, "
                              "env://), never its value."]
            continue
        if len(value) > MAX_VALUE_LENGTH:
            errors[field] = [f"At most {MAX_VALUE_LENGTH} characters."]
            continue
        if secrets.is_reference(value) and (secret or secrets.key_named_like_secret(key)):
            secret = True
        item: dict[str, Any] = {"value": value, "secret": secret, "must_match": must_match}
        fingerprint = entry.get("fingerprint")
        if fingerprint not in (None, ""):
            if not isinstance(fingerprint, str) or not secrets.is_fingerprint(fingerprint.lower()):
                errors[field] = ["fingerprint is the SHA-256 of the resolved value, 64 hex digits."]
                continue
            item["fingerprint"] = fingerprint.lower()
        cleaned[key] = item
    if refused:
        keys = ", ".join(sorted(k.removeprefix("settings.") for k in refused))
        raise InvalidInput(f"Clear secret values are refused; give references instead: {keys}.",
                           code="secret_value_refused", fields=refused)
    if errors:
        raise InvalidInput("Some settings are not valid.", fields=errors)
    return cleaned


def _withdraw(baseline: ConfigBaseline, *, actor, reason: str) -> None:
    baseline.status = ConfigBaseline.Status.WITHDRAWN
    history_stamp(baseline, actor)
    baseline._change_reason = reason[:100]
    baseline.save(update_fields=["status"])
    audit_event_record(action=ACTION_BASELINE_WITHDRAWN, target=baseline, actor=actor,
                       details={"service": baseline.service.slug, "environment": baseline.environment.slug,
                                "version": baseline.version, "change": baseline.change.number, "reason": reason})


def baseline_propose(*, service, environment, change: ChangeRequest, settings: Any, actor: Any) -> ConfigBaseline:
    """Propose the next baseline version of `service` in `environment` with `change` (see the module
    docstring). The same change proposing again replaces its pending proposal's settings."""
    cleaned = _clean_baseline_settings(settings)
    with atomic_as(actor) as resolved:
        user = resolved.user
        locked_change = (ChangeRequest.objects.select_for_update(of=("self",))
                         .select_related("change_type", "service", "environment").get(pk=change.pk))
        if not can_propose_baseline(user, locked_change):
            raise NotAllowed("Only the change's requester or implementer (or its pipeline) proposes its baseline.",
                             code="not_allowed_for_change")
        if locked_change.service_id != service.pk or locked_change.environment_id != environment.pk:
            raise Unprocessable(f"{locked_change.number} is a change to {locked_change.service.slug} in "
                                f"{locked_change.environment.slug}, not to {service.slug} in {environment.slug}.",
                                code="change_scope_mismatch", fields={"change": ["Another service or environment."]})
        change_type = locked_change.change_type
        if change_type.is_pre_approved or not (change_type.requires_peer_review or change_type.is_emergency):
            raise Unprocessable(f"A baseline is proposed with a configuration change (a peer-reviewed change type, "
                                f"or an emergency change); {change_type.name} is not one.",
                                code="change_type_not_configuration",
                                fields={"change": ["Not a configuration change type."]})
        if locked_change.state not in UNDECIDED_STATES or locked_change.approvals.filter(
                voided_at__isnull=True, decision="approve").exists():
            raise Conflict(f"{locked_change.number} is {locked_change.state} and already decided on; a baseline is "
                           "proposed before its reviewers decide.", code="change_already_decided",
                           fields={"change": ["File a new change for this baseline."]})
        _lock_state(service, environment)
        pending = (ConfigBaseline.objects.select_for_update().select_related("change", "service", "environment")
                   .filter(service=service, environment=environment, status=ConfigBaseline.Status.PROPOSED).first())
        if pending is not None and pending.change_id != locked_change.pk:
            if pending.change.state in CLOSED_CHANGE_STATES:
                _withdraw(pending, actor=resolved, reason=f"{pending.change.number} is {pending.change.state}")
                pending = None
            else:
                raise Conflict(f"Version {pending.version} is already proposed with {pending.change.number}; it is "
                               "decided first.", code="baseline_proposal_pending",
                               fields={"change": [f"{pending.change.number} is pending."]})
        if pending is not None:
            baseline = pending
            baseline.settings = cleaned
            baseline.proposed_by = user
            baseline.proposed_at = timezone.now()
            history_stamp(baseline, resolved)
            baseline._change_reason = "proposal replaced"
            baseline.save(update_fields=["settings", "proposed_by", "proposed_at"])
        else:
            latest = (ConfigBaseline.objects.filter(service=service, environment=environment)
                      .aggregate(v=Max("version"))["v"] or 0)
            baseline = ConfigBaseline(service=service, environment=environment, version=latest + 1,
                                      change=locked_change, settings=cleaned, proposed_by=user)
            history_stamp(baseline, resolved)
            baseline.save()
        audit_event_record(action=ACTION_BASELINE_PROPOSED, target=baseline, actor=resolved, details={
            "service": service.slug, "environment": environment.slug, "version": baseline.version,
            "change": locked_change.number, "keys": len(cleaned),
            "secret_keys": sorted(k for k, e in cleaned.items() if e["secret"]),
            "must_match_keys": sorted(k for k, e in cleaned.items() if e["must_match"])})
    return baseline


def _change_approves_configuration(change: ChangeRequest) -> bool:
    status = approval_status(change)
    return status == OVERALL_APPROVED or (status == OVERALL_NOT_REQUIRED and change.approved_at is not None)


def baseline_approve_for_change(*, change: ChangeRequest, actor: Any) -> list[ConfigBaseline]:
    """Registered with apps.changes.approval_hooks: runs inside the approval's transaction."""
    proposals = list(ConfigBaseline.objects.select_for_update().select_related("service", "environment")
                     .filter(change=change, status=ConfigBaseline.Status.PROPOSED).order_by("pk"))
    if not proposals or not _change_approves_configuration(change):
        return []
    approvers = sorted({a.approver.username for a in live_approvals(change) if a.decision == "approve"})
    approved: list[ConfigBaseline] = []
    with atomic_as(actor) as resolved:
        now = timezone.now()
        for proposal in proposals:
            _lock_state(proposal.service, proposal.environment)
            previous = (ConfigBaseline.objects.select_for_update()
                        .filter(service=proposal.service, environment=proposal.environment,
                                status=ConfigBaseline.Status.APPROVED).first())
            if previous is not None:
                previous.status = ConfigBaseline.Status.SUPERSEDED
                previous.superseded_at = now
                history_stamp(previous, resolved)
                previous._change_reason = f"superseded by v{proposal.version}"
                previous.save(update_fields=["status", "superseded_at"])
            proposal.status = ConfigBaseline.Status.APPROVED
            proposal.approved_by = resolved.user
            proposal.approved_at = now
            proposal.approvers = approvers
            history_stamp(proposal, resolved)
            proposal._change_reason = f"approved with {change.number}"
            proposal.save(update_fields=["status", "approved_by", "approved_at", "approvers"])
            audit_event_record(action=ACTION_BASELINE_APPROVED, target=proposal, actor=resolved, details={
                "service": proposal.service.slug, "environment": proposal.environment.slug,
                "version": proposal.version, "change": change.number, "approvers": approvers,
                "superseded_version": previous.version if previous else None})
            approved.append(proposal)
    return approved


# --- observations -------------------------------------------------------------------------------

def _clean_observed(settings: Any, runtimes: Any) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(settings, dict):
        raise InvalidInput("settings must be an object of KEY: value.", fields={"settings": ["An object."]})
    if len(settings) > MAX_KEYS:
        raise InvalidInput(f"At most {MAX_KEYS} settings.", fields={"settings": [f"At most {MAX_KEYS} keys."]})
    values: dict[str, str] = {}
    for key, value in settings.items():
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors.setdefault("settings", []).append("Setting names are letters, digits, _ . - / (at most 200).")
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            errors[_setting_field(key)] = ["A string, number or boolean."]
            continue
        if len(value) > MAX_VALUE_LENGTH:
            errors[_setting_field(key)] = [f"At most {MAX_VALUE_LENGTH} characters."]
            continue
        values[key] = value
    if runtimes is None:
        runtimes = {}
    if not isinstance(runtimes, dict):
        errors["runtimes"] = ["An object such as {\"java\": \"17.0.9\"}."]
        runtimes = {}
    cleaned_runtimes: dict[str, str] = {}
    for name, version in runtimes.items():
        if not (isinstance(name, str) and RUNTIME_PATTERN.match(name) and isinstance(version, str)
                and RUNTIME_PATTERN.match(version)):
            errors[f"runtimes.{name}"[:210]] = ["A runtime name and a version such as \"17.0.9\"."]
            continue
        cleaned_runtimes[name.lower()] = version
    if errors:
        raise InvalidInput("Some observed settings are not valid.", fields=errors)
    return values, cleaned_runtimes


def _store_observed(values: dict[str, str], baseline_settings: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Each observed value as kept: `{"value"}`, or `{"fingerprint"}` for a clear secret."""
    stored: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        entry = baseline_settings.get(key)
        if secrets.is_reference(value):
            stored[key] = {"value": value}
        elif entry is not None and not entry.get("secret") and value == entry.get("value"):
            stored[key] = {"value": value}  # the approved value: it passed the detector when proposed
        elif secrets.is_clear_secret(key, value, marked_secret=bool(entry and entry.get("secret"))):
            stored[key] = {"fingerprint": secrets.fingerprint(value)}
        else:
            stored[key] = {"value": value}
    return stored


def shown_observed(entry: dict[str, str] | None) -> str:
    if not entry:
        return ""
    if "fingerprint" in entry:
        return secrets.masked(entry["fingerprint"])
    return _shown(entry["value"])


def _matches(expected: dict[str, Any], observed: dict[str, str]) -> bool:
    if "value" in observed:
        return observed["value"] == expected["value"]
    expected_fp = expected.get("fingerprint")
    if not expected_fp and not secrets.is_reference(expected["value"]):
        expected_fp = secrets.fingerprint(expected["value"])
    return bool(expected_fp) and expected_fp == observed["fingerprint"]


def compare(baseline_settings: dict[str, dict], observed: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Differences between an approved baseline and stored observed settings, as the API answers
    them (masked): `[{"key", "kind", "expected", "observed", "must_match", "secret"}]`, by key."""
    drift: list[dict[str, Any]] = []
    for key in sorted(set(baseline_settings) | set(observed)):
        expected, seen = baseline_settings.get(key), observed.get(key)
        if expected is None:
            kind = DriftFinding.Kind.UNEXPECTED
        elif seen is None:
            kind = DriftFinding.Kind.MISSING
        elif _matches(expected, seen):
            continue
        else:
            kind = DriftFinding.Kind.CHANGED
        drift.append({"key": key, "kind": str(kind), "expected": _shown(expected["value"]) if expected else "",
                      "observed": shown_observed(seen),
                      "must_match": bool(expected and expected.get("must_match")),
                      "secret": bool((expected and expected.get("secret")) or (seen and "fingerprint" in seen))})
    return drift


def _attributed_deployment_id(*, service, environment, observed_at: datetime, deployment) -> int | None:
    if deployment is not None:
        return deployment.pk
    return (Deployment.objects.filter(service=service, environment=environment, started_at__lte=observed_at,
                                      started_at__gte=observed_at - timedelta(minutes=ATTRIBUTION_MINUTES))
            .order_by("-started_at", "-pk").values_list("pk", flat=True).first())


def observation_record(*, service, environment, source: str, observed_at: datetime, settings: Any,
                       runtimes: Any = None, deployment=None, actor: Any) -> ConfigObservation:
    """Store what ran and compare it with the approved baseline (module docstring). Returns the
    observation; `.drift` is the comparison and `.new_finding_ids` the findings it opened."""
    if source not in ConfigObservation.Source.values:
        raise InvalidInput("source is pipeline, scanner or agent.", fields={"source": ["pipeline, scanner or agent"]})
    if not isinstance(observed_at, datetime) or timezone.is_naive(observed_at):
        raise InvalidInput("observed_at is a timezone-aware time.", fields={"observed_at": ["With a timezone."]})
    if observed_at > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidInput("observed_at is in the future.", fields={"observed_at": ["Not after now (5 minutes' "
                                                                                    "clock skew allowed)."]})
    values, cleaned_runtimes = _clean_observed(settings, runtimes)
    if deployment is not None and (deployment.service_id != service.pk or deployment.environment_id != environment.pk):
        raise Unprocessable(f"Deployment {deployment.pk} is not of {service.slug} in {environment.slug}.",
                            code="deployment_mismatch", fields={"deployment": ["Another service or environment."]})
    with atomic_as(actor) as resolved:
        if not can_observe(resolved.user, service):
            raise NotAllowed(f"Only {service.slug}'s team, release managers and pipelines report its configuration.",
                             code="not_allowed_for_service")
        state = _lock_state(service, environment)
        baseline = (ConfigBaseline.objects.filter(service=service, environment=environment,
                                                  status=ConfigBaseline.Status.APPROVED).first())
        baseline_settings = baseline.settings if baseline else {}
        stored = _store_observed(values, baseline_settings)
        drift = compare(baseline_settings, stored) if baseline else []
        observation = ConfigObservation.objects.create(
            service=service, environment=environment, source=source, observed_at=observed_at, deployment=deployment,
            baseline=baseline, settings=stored, runtimes=cleaned_runtimes,
            drift=[{k: d[k] for k in ("key", "kind", "expected", "observed")} for d in drift],
            created_by=resolved.user)
        new_ids, updated_ids, cleared_ids, stale_ids = _record_findings(
            service=service, environment=environment, observation=observation, baseline=baseline, drift=drift,
            deployment=deployment, actor=resolved)
        if state.last_observed_at is None or observed_at >= state.last_observed_at:
            state.last_observation = observation
            state.last_observed_at = observed_at
            state.runtimes = cleaned_runtimes
            state.stale_since = None
            state.save(update_fields=["last_observation", "last_observed_at", "runtimes", "stale_since"])
        audit_event_record(action=ACTION_OBSERVATION, target=observation, actor=resolved, details={
            "service": service.slug, "environment": environment.slug, "source": source,
            "observed_at": observed_at.isoformat(), "deployment": deployment.pk if deployment else None,
            "baseline_version": baseline.version if baseline else None, "keys": len(stored),
            "runtimes": cleaned_runtimes, "differences": len(drift), "findings_opened": new_ids,
            "findings_updated": len(updated_ids), "findings_cleared": cleared_ids, "stale_resolved": stale_ids})
        if new_ids:
            transaction.on_commit(lambda: _enqueue_notification(new_ids))
    observation.drift_details = drift
    observation.new_finding_ids = new_ids
    return observation


def _record_findings(*, service, environment, observation: ConfigObservation, baseline, drift: list[dict],
                     deployment, actor) -> tuple[list[int], list[int], list[int], list[int]]:
    """Open, update and clear findings for one observation (the caller holds the pair's lock)."""
    at = observation.observed_at
    now = timezone.now()
    open_findings = {f.key: f for f in DriftFinding.objects.filter(service=service, environment=environment,
                                                                   status=DriftFinding.Status.OPEN)}
    # A stale finding closes on any observation.
    stale = open_findings.pop("", None)
    stale_ids: list[int] = []
    if stale is not None and stale.kind == DriftFinding.Kind.STALE:
        stale.status = DriftFinding.Status.RESOLVED
        stale.resolution = DriftFinding.Resolution.OBSERVED
        stale.resolved_at = now
        stale.resolving_observation = observation
        history_stamp(stale, actor)
        stale.save()
        stale_ids.append(stale.pk)
    new: list[DriftFinding] = []
    updated: list[DriftFinding] = []
    deployment_id = None
    differing = set()
    for d in drift:
        differing.add(d["key"])
        finding = open_findings.get(d["key"])
        if finding is None:
            if deployment_id is None:
                deployment_id = _attributed_deployment_id(service=service, environment=environment, observed_at=at,
                                                          deployment=deployment) or 0
            new.append(DriftFinding(
                service=service, environment=environment, key=d["key"], kind=d["kind"], expected=d["expected"],
                observed=d["observed"], secret=d["secret"], must_match=d["must_match"], baseline=baseline,
                first_observation=observation, last_observation=observation, first_seen=at, last_seen=at,
                deployment_id=deployment_id or None))
            continue
        if at < finding.last_seen:
            continue  # a late report of an older state says nothing about now
        finding.kind, finding.expected, finding.observed = d["kind"], d["expected"], d["observed"]
        finding.secret, finding.must_match, finding.baseline = d["secret"], d["must_match"], baseline
        finding.last_seen, finding.last_observation, finding.cleared_by = at, observation, None
        updated.append(finding)
    cleared: list[DriftFinding] = []
    for key, finding in open_findings.items():
        if key not in differing and finding.cleared_by_id is None and at > finding.last_seen:
            finding.cleared_by = observation
            cleared.append(finding)
    new_ids: list[int] = []
    if new:
        created = DriftFinding.objects.bulk_create(new)
        new_ids = [f.pk for f in created]
        if None in new_ids:  # a backend without RETURNING: read the rows back
            new_ids = list(DriftFinding.objects.filter(first_observation=observation).values_list("pk", flat=True))
        history_copy_rows(DriftFinding.objects.filter(pk__in=new_ids), actor=actor, when=now,
                          reason="drift observed", history_type="+")
    if updated:
        DriftFinding.objects.bulk_update(updated, ["kind", "expected", "observed", "secret", "must_match", "baseline",
                                                   "last_seen", "last_observation", "cleared_by"])
        history_copy_rows(DriftFinding.objects.filter(pk__in=[f.pk for f in updated]), actor=actor, when=now,
                          reason="drift observed again", history_type="~")
    if cleared:
        DriftFinding.objects.bulk_update(cleared, ["cleared_by"])
        history_copy_rows(DriftFinding.objects.filter(pk__in=[f.pk for f in cleared]), actor=actor, when=now,
                          reason="difference no longer observed", history_type="~")
    return new_ids, [f.pk for f in updated], [f.pk for f in cleared], stale_ids


def _enqueue_notification(finding_ids: list[int]) -> None:
    from .config_tasks import notify_drift_findings

    notify_drift_findings.delay(finding_ids)


# --- remediation --------------------------------------------------------------------------------

def _observed_entry(finding: DriftFinding) -> dict[str, str] | None:
    observation = finding.last_observation
    return observation.settings.get(finding.key) if observation is not None else None


def drift_resolve(*, finding: DriftFinding, resolution: str, change: ChangeRequest | None, actor: Any) -> DriftFinding:
    """Close a finding as `reverted` (a later observation no longer shows the difference) or
    `accepted` (an approved change whose baseline version holds the observed state)."""
    if resolution not in (DriftFinding.Resolution.REVERTED, DriftFinding.Resolution.ACCEPTED):
        raise InvalidInput("resolution is reverted or accepted.", fields={"resolution": ["reverted or accepted"]})
    if resolution == DriftFinding.Resolution.ACCEPTED and change is None:
        raise InvalidInput("Accepting drift needs the approved change that puts the observed value in the baseline.",
                           fields={"change": ["Required to accept."]})
    with atomic_as(actor) as resolved:
        locked = (DriftFinding.objects.select_for_update(of=("self",))
                  .select_related("service", "environment", "last_observation", "cleared_by").get(pk=finding.pk))
        if not can_resolve_drift(resolved.user, locked):
            raise NotAllowed(f"Only {locked.service.slug}'s team and release managers resolve its drift.",
                             code="not_allowed_for_service")
        if locked.status != DriftFinding.Status.OPEN:
            raise Conflict(f"{locked.reference} is already {locked.resolution}.", code="finding_not_open")
        if locked.kind == DriftFinding.Kind.STALE:
            raise Conflict("A stale finding resolves itself with the next observation.", code="finding_resolves_itself")
        resolving_baseline = None
        if resolution == DriftFinding.Resolution.REVERTED:
            if locked.cleared_by_id is None:
                raise Conflict(f"No observation after {locked.last_seen:%Y-%m-%d %H:%M} UTC shows {locked.key} back "
                               "as the baseline has it.", code="drift_still_observed",
                               fields={"resolution": ["Post a later observation first."]})
        else:
            resolving_baseline = _accepting_baseline(locked, change)
        locked.status = DriftFinding.Status.RESOLVED
        locked.resolution = resolution
        locked.resolved_by = resolved.user
        locked.resolved_at = timezone.now()
        locked.resolving_change = change
        locked.resolving_baseline = resolving_baseline
        locked.resolving_observation = locked.cleared_by if resolution == DriftFinding.Resolution.REVERTED else None
        history_stamp(locked, resolved)
        locked._change_reason = f"resolved: {resolution}"
        locked.save()
        audit_event_record(action=ACTION_DRIFT_RESOLVED, target=locked, actor=resolved, details={
            "service": locked.service.slug, "environment": locked.environment.slug, "key": locked.key,
            "kind": locked.kind, "resolution": resolution, "change": change.number if change else None,
            "baseline_version": resolving_baseline.version if resolving_baseline else None,
            "observation": locked.resolving_observation_id})
    return locked


def _accepting_baseline(finding: DriftFinding, change: ChangeRequest) -> ConfigBaseline:
    version = (ConfigBaseline.objects.filter(change=change, service_id=finding.service_id,
                                             environment_id=finding.environment_id,
                                             status__in=[ConfigBaseline.Status.APPROVED,
                                                         ConfigBaseline.Status.SUPERSEDED])
               .order_by("-version").first())
    if version is None:
        raise Unprocessable(f"{change.number} approved no baseline of {finding.service.slug} in "
                            f"{finding.environment.slug}.", code="change_not_approved",
                            fields={"change": ["No approved baseline version with this change."]})
    entry = version.settings.get(finding.key)
    observed = _observed_entry(finding)
    if finding.kind == DriftFinding.Kind.MISSING:
        holds = entry is None
    else:
        holds = entry is not None and observed is not None and _matches(entry, observed)
    if not holds:
        raise Unprocessable(f"Baseline v{version.version} ({change.number}) does not hold the observed "
                            f"{finding.key}.", code="baseline_does_not_hold_observed",
                            fields={"change": ["Its baseline does not put the observed value in place."]})
    return version


# --- policy and staleness -----------------------------------------------------------------------

def policy_set(*, environment, actor: Any, max_hours_without_observation: int | None = None,
               parity_precision: str = ParityPrecision.MINOR) -> EnvironmentConfigPolicy:
    if parity_precision not in ParityPrecision.values:
        raise InvalidInput("parity_precision is major, minor or patch.",
                           fields={"parity_precision": ["major, minor or patch"]})
    if max_hours_without_observation is not None and (
            not isinstance(max_hours_without_observation, int) or not 1 <= max_hours_without_observation <= 24 * 90):
        raise InvalidInput("max_hours_without_observation is 1 to 2160 hours, or empty.",
                           fields={"max_hours_without_observation": ["1 to 2160, or empty"]})
    with atomic_as(actor) as resolved:
        policy = EnvironmentConfigPolicy.objects.select_for_update().filter(environment=environment).first()
        if policy is None:
            policy = EnvironmentConfigPolicy(environment=environment)
        policy.max_hours_without_observation = max_hours_without_observation
        policy.parity_precision = parity_precision
        policy.updated_at = timezone.now()
        history_stamp(policy, resolved)
        policy.save()
        audit_event_record(action=ACTION_POLICY_SET, target=policy, actor=resolved, details={
            "environment": environment.slug, "max_hours_without_observation": max_hours_without_observation,
            "parity_precision": parity_precision})
    return policy


def stale_observations_flag(*, actor: Any, at: datetime | None = None) -> list[int]:
    """Open a `stale` finding for every service with an approved baseline in an environment whose
    policy sets a maximum, and no observation there for longer. One audit event per run that
    flags anything. Idempotent: an open stale finding is not opened again."""
    at = at or timezone.now()
    policies = list(EnvironmentConfigPolicy.objects.filter(max_hours_without_observation__isnull=False)
                    .select_related("environment"))
    created_ids: list[int] = []
    with atomic_as(actor) as resolved:
        for policy in policies:
            limit = at - timedelta(hours=policy.max_hours_without_observation)
            pairs = (ConfigBaseline.objects.filter(environment=policy.environment,
                                                   status=ConfigBaseline.Status.APPROVED)
                     .values_list("service_id", flat=True))
            states = {s.service_id: s for s in ConfigState.objects.filter(environment=policy.environment,
                                                                          service_id__in=pairs)}
            already = set(DriftFinding.objects.filter(environment=policy.environment, key="",
                                                      status=DriftFinding.Status.OPEN)
                          .values_list("service_id", flat=True))
            for service_id in pairs:
                state = states.get(service_id)
                last = state.last_observed_at if state else None
                if (last is not None and last >= limit) or service_id in already:
                    continue
                seen = f"last observed {last:%Y-%m-%d %H:%M} UTC" if last else "never observed"
                finding = DriftFinding(service_id=service_id, environment=policy.environment, key="",
                                       kind=DriftFinding.Kind.STALE,
                                       expected=f"an observation every {policy.max_hours_without_observation} h",
                                       observed=seen, first_seen=at, last_seen=at)
                history_stamp(finding, resolved)
                try:
                    with transaction.atomic():
                        finding.save()
                except IntegrityError:
                    continue  # flagged by a simultaneous run
                if state is not None:
                    ConfigState.objects.filter(pk=state.pk).update(stale_since=at)
                created_ids.append(finding.pk)
        if created_ids:
            audit_event_record(action=ACTION_STALE_FLAGGED, actor=resolved, object_type="environments.driftfinding",
                               object_repr=f"{len(created_ids)} stale", details={
                                   "at": at.isoformat(), "findings": created_ids})
            ids = list(created_ids)
            transaction.on_commit(lambda: _enqueue_notification(ids))
    return created_ids
