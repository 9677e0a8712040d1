"""Delivery writes: keys, artifacts, evidence, gate decisions and locks, deployments.

Every function runs in one transaction, writes its audit event there, and sends side effects
(the privilege signal) on commit. Pipeline calls name their run id and change in the event."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as
from apps.audit.services import audit_event_record
from apps.catalog.models import Environment, Service
from apps.catalog.privileges import DEPLOYER, holds_privilege
from apps.catalog.signals import privilege_exercised
from apps.changes.models import ChangeRequest, ChangeState
from apps.notifications.services import chat_notify
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, PortalError, Unprocessable

from . import (
    cyclonedx,
    gate,
    junit,
    provenance,
    resource_locks,
    sarif,
    schema_manifest,
    signing,
    spdx,
    versioning,
)
from .models import (
    Artifact,
    ArtifactStandard,
    Deployment,
    DeploymentLock,
    Evidence,
    GateDecision,
    PullRequest,
    SignatureStatus,
    SigningKey,
    VersionPolicy,
)


class EvidenceTooLarge(PortalError):
    status = 413
    code = "evidence_too_large"


def _user_of(actor: Any):
    return resolve_actor(actor).user


def _saved(obj, *, actor: Any, **kwargs):
    """Save a governed record with its history row naming `actor` (the same as its audit event),
    not whoever the request or task context happens to hold."""
    obj._history_user = _user_of(actor)
    obj.save(**kwargs)
    return obj


def _exercised(*, user, service: Service, environment: Environment, at: datetime) -> None:
    """Tell access reviews a deployer privilege was used (production only, where it is required)."""
    if not environment.is_production or user is None:
        return
    transaction.on_commit(lambda: privilege_exercised.send(sender=Deployment, user=user, privilege=DEPLOYER,
                                                           service=service, environment=environment, at=at))


# --- signing keys ---------------------------------------------------------------------------

def signing_key_register(*, team, name: str, public_key_pem: str, actor: Any) -> SigningKey:
    algorithm, _, fingerprint = signing.load_public_key(public_key_pem)
    with atomic_as(actor):
        if SigningKey.objects.filter(fingerprint=fingerprint).exists():
            raise Conflict("This public key is already registered.", code="signing_key_exists")
        key = _saved(SigningKey(team=team, name=name, algorithm=algorithm, public_key_pem=public_key_pem.strip(),
                                fingerprint=fingerprint, created_by=_user_of(actor)), actor=actor)
        audit_event_record(action="delivery.signing_key_registered", target=key, actor=actor,
                           details={"team": team.slug, "algorithm": algorithm, "fingerprint": fingerprint})
    return key


def signing_key_revoke(*, key: SigningKey, actor: Any) -> SigningKey:
    with atomic_as(actor):
        locked = SigningKey.objects.select_for_update().get(pk=key.pk)
        locked.is_active = False
        locked.revoked_at = timezone.now()
        _saved(locked, actor=actor, update_fields=["is_active", "revoked_at"])
        audit_event_record(action="delivery.signing_key_revoked", target=locked, actor=actor,
                           details={"fingerprint": locked.fingerprint})
    return locked


# --- artifacts ------------------------------------------------------------------------------

@dataclass
class Registered:
    artifact: Artifact
    created: bool


def artifact_register(*, service: Service, version: str, digest: str, format: str, actor: Any, git_sha: str = "",
                      pipeline_id: str = "", build_id: str = "", signature: str = "",
                      pipeline_run_id: str = "", size: int | None = None) -> Registered:
    """Register a build. Same version + same digest again is a no-op; another digest is refused."""
    existing = Artifact.objects.filter(service=service, version=version).first()
    if existing is not None:
        if existing.digest != digest:
            raise Conflict(f"{service.slug} {version} is already registered with digest {existing.digest}; "
                           "versions are immutable.", code="artifact_version_immutable",
                           fields={"version": ["already registered with another digest"]})
        return Registered(existing, False)
    clash = Artifact.objects.filter(service=service, digest=digest).first()
    if clash is not None:
        raise Conflict(f"This digest is already registered for {service.slug} as version {clash.version}.",
                       code="artifact_digest_exists", fields={"digest": ["already registered as another version"]})
    allowed = ArtifactStandard.objects.values_list("allowed_formats", flat=True).first()
    if allowed and format not in allowed:
        raise Unprocessable(f"The organisation's artifact standard allows {', '.join(allowed)} only, not {format}.",
                            code="format_not_allowed", fields={"format": [f"allowed: {', '.join(allowed)}"]})
    policy = VersionPolicy.objects.filter(service=service).first()
    if policy is not None:
        versioning.check_version(policy.pattern, version=version, git_sha=git_sha, pipeline_id=pipeline_id,
                                 build_id=build_id)
    status, key = SignatureStatus.UNSIGNED, None
    if signature:
        keys = SigningKey.objects.filter(team_id=service.owner_team_id, is_active=True)
        key = signing.find_signing_key(keys, digest, signature)
        status = SignatureStatus.VALID if key is not None else SignatureStatus.INVALID
    try:
        with atomic_as(actor):
            artifact = _saved(Artifact(
                service=service, version=version, digest=digest, git_sha=git_sha, pipeline_id=pipeline_id,
                build_id=build_id, format=format, signature=signature, signature_status=status, signing_key=key,
                size=size, created_by=_user_of(actor),
            ), actor=actor)
            audit_event_record(action="delivery.artifact_registered", target=artifact, actor=actor, details={
                "service": service.slug, "version": version, "digest": digest, "signature": status,
                "signing_key": key.fingerprint if key else "", "pipeline_id": pipeline_id,
                "pipeline_run_id": pipeline_run_id,
            })
    except IntegrityError:
        # A simultaneous registration won the race: answer as if we had come second.
        return artifact_register(service=service, version=version, digest=digest, format=format, actor=actor,
                                 git_sha=git_sha, pipeline_id=pipeline_id, build_id=build_id, signature=signature,
                                 pipeline_run_id=pipeline_run_id, size=size)
    return Registered(artifact, True)


# --- evidence -------------------------------------------------------------------------------

_JSON_KINDS = {"sarif", "cyclonedx", "spdx", "slsa_provenance", "migrations"}
_EXTENSIONS = {"junit": "xml", "sarif": "sarif", "cyclonedx": "json", "spdx": "json", "slsa_provenance": "json",
               "migrations": "json", "log": "log", "other": "bin"}


def evidence_parse(*, kind: str, data: bytes, artifact: Artifact) -> dict:
    """The parsed summary of a document, or an error naming the problem. Stores nothing."""
    if kind == "junit":
        return junit.parse(data)
    if kind == "sarif":
        return sarif.parse(data)
    if kind == "cyclonedx":
        return cyclonedx.parse(data)
    if kind == "spdx":
        return spdx.parse(data)
    if kind == "slsa_provenance":
        return provenance.parse(data, digest=artifact.digest)
    if kind == "migrations":
        return schema_manifest.parse(data)
    if kind == "log":
        text = data.decode("utf-8", errors="replace")
        return {"bytes": len(data), "lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0)}
    if kind == "other":
        return {"bytes": len(data)}
    raise InvalidInput(f"Unknown evidence kind {kind!r}.", code="invalid", fields={"kind": ["unknown kind"]})


def evidence_check_size(size: int) -> None:
    limit = settings.EVIDENCE_MAX_BYTES
    if size > limit:
        raise EvidenceTooLarge(f"The document is {size} bytes; evidence is limited to {limit} bytes.",
                               fields={"file": [f"larger than {limit} bytes"]})


def evidence_attach(*, artifact: Artifact, kind: str, data: bytes, actor: Any, filename: str = "",
                    pipeline_run_id: str = "") -> Evidence:
    """Parse first, then store the file and the row; a refused document leaves nothing behind."""
    evidence_check_size(len(data))
    summary = evidence_parse(kind=kind, data=data, artifact=artifact)
    sha = hashlib.sha256(data).hexdigest()
    evidence = Evidence(artifact=artifact, kind=kind, summary=summary, filename=(filename or "")[:200], sha256=sha,
                        size=len(data), pipeline_run_id=pipeline_run_id, created_by=_user_of(actor))
    evidence.document.save(f"{artifact.digest[7:19]}-{kind}-{sha[:12]}.{_EXTENSIONS[kind]}", ContentFile(data),
                           save=False)
    try:
        with atomic_as(actor):
            _saved(evidence, actor=actor)
            audit_event_record(action="delivery.evidence_attached", target=evidence, actor=actor, details={
                "artifact": artifact.digest, "service": artifact.service.slug, "kind": kind, "sha256": sha,
                "size": len(data), "pipeline_run_id": pipeline_run_id,
            })
    except Exception:
        evidence.document.delete(save=False)
        raise
    return evidence


# --- gate -----------------------------------------------------------------------------------

def gate_check(*, service: Service, environment: Environment, artifact_ref: str, change_ref: str, actor: Any,
               pipeline_run_id: str = "", pipeline_template: str = "",
               pipeline_template_version: str = "", shared_resources: Sequence[str] | None = None) -> GateDecision:
    """Evaluate every rule, record the decision, and on `allow` take the deployment lock. Shared
    resources named are checked (a held one denies, `resource_locked`), not taken: the deployment
    that starts takes them."""
    from .selectors import artifact_by_digest, change_by_ref

    started = time.perf_counter()
    user = _user_of(actor)
    now = timezone.now()
    artifact = artifact_by_digest(artifact_ref, service=service) if artifact_ref else None
    change = change_by_ref(change_ref) if change_ref else None
    resources = resource_locks.resolve(shared_resources)
    verdict = gate.evaluate(user=user, service=service, environment=environment, artifact=artifact,
                            artifact_ref=artifact_ref, change=change, change_ref=str(change_ref or ""), at=now,
                            pipeline_template=pipeline_template, pipeline_template_version=pipeline_template_version,
                            shared_resources=resources)
    policy = gate.policy_for(environment)
    with transaction.atomic():
        decision = GateDecision.objects.create(
            service=service, environment=environment, artifact=artifact, artifact_ref=(artifact_ref or "")[:100],
            change=change, change_ref=str(change_ref or "")[:40],
            decision=GateDecision.Decision.ALLOW if verdict.allowed else GateDecision.Decision.DENY,
            reasons=verdict.reasons, emergency_override=verdict.override is not None, requested_by=user,
            pipeline_run_id=pipeline_run_id, pipeline_template=pipeline_template,
            pipeline_template_version=pipeline_template_version, created_at=now,
            # Time to evaluate the rules; taking the lock and writing the audit event come after.
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if verdict.allowed and not _lock_acquire(decision=decision, policy=policy, now=now):
            decision.decision = GateDecision.Decision.DENY
            decision.reasons = [*decision.reasons, {"code": "deployment_in_progress", "severity": gate.DENY,
                                                    "message": f"Another deployment of {service.slug} to "
                                                               f"{environment.slug} holds the lock."}]
            decision.save(update_fields=["decision", "reasons"])
        audit_event_record(action=f"delivery.gate_{decision.decision}", target=decision, actor=actor, details={
            "service": service.slug, "environment": environment.slug, "artifact": artifact_ref,
            "change": change.number if change else str(change_ref or ""), "pipeline_run_id": pipeline_run_id,
            "pipeline_template": pipeline_template, "pipeline_template_version": pipeline_template_version,
            "reasons": decision.reason_codes, **({"shared_resources": [r.slug for r in resources]} if resources else {}),
        })
        if decision.decision == GateDecision.Decision.ALLOW:
            _exercised(user=user, service=service, environment=environment, at=now)
        elif environment.is_production:
            _chat_gate_denied(decision, service=service, environment=environment, change=change,
                              change_ref=str(change_ref or ""), user=user)
    return decision


def _chat_gate_denied(decision: GateDecision, *, service: Service, environment: Environment,
                      change: ChangeRequest | None, change_ref: str, user) -> None:
    """The owning team's chat channels hear of a production deployment the gate refused."""
    from urllib.parse import urlencode

    from django.urls import reverse

    codes = ", ".join(decision.reason_codes) or "—"
    denials = [r["message"] for r in decision.reasons if r.get("severity") == gate.DENY]
    path = reverse("delivery:gate-decisions") + "?" + urlencode(
        {"service": service.slug, "environment": environment.slug, "decision": "deny"})
    chat_notify(event="gate_denied_prod", team_id=service.owner_team_id, target_type="delivery.gatedecision",
                target_id=decision.pk, target_repr=f"gate decision #{decision.pk}",
                title=f"Gate denied {service.slug} to {environment.slug}",
                text="; ".join(denials)[:1000], path=path,
                facts=[("Service", service.slug), ("Environment", environment.slug),
                       ("Change", change.number if change else (change_ref or "—")),
                       ("Asked by", user.get_username() if user else "—"), ("Reasons", codes)])


def _lock_acquire(*, decision: GateDecision, policy, now: datetime) -> bool:
    """Insert the slot's lock row; the unique constraint makes exactly one concurrent insert win."""
    DeploymentLock.objects.filter(service_id=decision.service_id, environment_id=decision.environment_id,
                                  expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            DeploymentLock.objects.create(service_id=decision.service_id, environment_id=decision.environment_id,
                                          gate_decision=decision, change=decision.change, acquired_at=now,
                                          expires_at=now + timedelta(minutes=policy.lock_timeout_minutes))
    except IntegrityError:
        return False
    return True


def _allow_for(lock: DeploymentLock | None, *, service: Service, environment: Environment,
               artifact: Artifact | None, change: ChangeRequest | None, now: datetime) -> GateDecision | None:
    """The gate allow a deployment may consume: the one holding its slot's live lock, given for
    this very artifact and change, not yet used by another deployment. Anything else (another
    artifact or change, an expired lock, an allow already used) authorises nothing."""
    if lock is None or lock.expires_at <= now or lock.deployment_id is not None:
        return None
    allow = lock.gate_decision
    if (allow.decision != GateDecision.Decision.ALLOW or allow.service_id != service.pk
            or allow.environment_id != environment.pk):
        return None
    if artifact is None or allow.artifact_id != artifact.pk:
        return None
    if allow.change_id != (change.pk if change is not None else None):
        return None
    return allow


# --- deployments ----------------------------------------------------------------------------

_START_STATES = {Deployment.Status.STARTED, Deployment.Status.IN_PROGRESS}
_CHANGE_OUTCOME = {
    Deployment.Status.SUCCEEDED: ChangeState.COMPLETED,
    Deployment.Status.FAILED: ChangeState.FAILED,
    Deployment.Status.ROLLED_BACK: ChangeState.ROLLED_BACK,
}


def _move_change(*, deployment: Deployment, actor: Any) -> None:
    """The linked change follows its deployment to the change's own environment, when the change's
    own guards allow the move. A deployment the record does not back (a change still in review, say)
    is recorded all the same, unauthorised where the gate did not allow it, and leaves the change
    where it is: refusing to record it would hide it from reconciliation."""
    from apps.changes.services import change_transition, transition_refusal

    change = deployment.change
    if change is None or change.environment_id != deployment.environment_id:
        return
    change = ChangeRequest.objects.select_for_update().select_related("change_type").get(pk=change.pk)
    details = {"deployment": deployment.pk, "pipeline_run_id": deployment.pipeline_run_id}
    if transition_refusal(change, ChangeState.IMPLEMENTING) is None:
        change = change_transition(change=change, to_state=ChangeState.IMPLEMENTING, actor=actor,
                                   reason=f"Deployment #{deployment.pk} started", details=details)
    outcome = _CHANGE_OUTCOME.get(deployment.status)
    if outcome and transition_refusal(change, outcome) is None:
        change = change_transition(change=change, to_state=outcome, actor=actor,
                                   reason=f"Deployment #{deployment.pk} {deployment.status.replace('_', ' ')}",
                                   details=details)
    deployment.change = change


_HEX_SHA = re.compile(r"[0-9a-f]{1,40}")


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _clean_commits(commits: Iterable[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for index, commit in enumerate(commits):
        sha = str(commit.get("sha", "")).strip().lower()
        if not _HEX_SHA.fullmatch(sha):
            raise InvalidInput("Each commit needs a hexadecimal sha of at most 40 characters.",
                               fields={f"commits[{index}].sha": ["not a git SHA"]})
        authored_at = commit.get("authored_at")
        if isinstance(authored_at, str):
            authored_at = _parse_time(authored_at)
        if not isinstance(authored_at, datetime):
            raise InvalidInput("Each commit needs authored_at, an ISO 8601 time.",
                               fields={f"commits[{index}].authored_at": ["required: an ISO 8601 time"]})
        seen.setdefault(sha, {**commit, "sha": sha, "authored_at": authored_at})
    return list(seen.values())


# Recording a deployment is the pipelines' busiest call. Its two reads and its commit rows are
# hand-written because the ORM spent more CPU building these statements than the database spent
# running them; plain SQL that PostgreSQL and SQLite both run.
_SLOT_LOCK_AND_ARTIFACT_SQL = """
SELECT l.id, a.id, a.version, a.digest
FROM (SELECT 1 AS one) o
LEFT JOIN delivery_deploymentlock l ON l.service_id = %(service)s AND l.environment_id = %(environment)s
LEFT JOIN delivery_artifact a ON a.service_id = %(service)s AND a.version = %(version)s AND %(by_version)s = 1
"""
_COMMIT_ROWS_PER_INSERT = 200


def _slot_lock_and_artifact(*, service: Service, environment: Environment,
                            version: str) -> tuple[int | None, Artifact | None]:
    """The id of the slot's deployment lock, if any, and the service's artifact of that version
    (loaded with id, version and digest; the rest on access), in one round trip. The lock row
    itself is then locked on its own, only when there is one."""
    with connection.cursor() as cursor:
        cursor.execute(_SLOT_LOCK_AND_ARTIFACT_SQL, {"service": service.pk, "environment": environment.pk,
                                                     "version": version, "by_version": 1 if version else 0})
        lock_id, artifact_id, artifact_version, digest = cursor.fetchone()
    artifact = None
    if artifact_id is not None:
        artifact = Artifact.from_db(connection.alias, ["id", "service_id", "version", "digest"],
                                    [artifact_id, service.pk, artifact_version, digest])
        Artifact.service.field.set_cached_value(artifact, service)
    return lock_id, artifact


def _commits_insert(deployment: Deployment, rows: list[dict]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _COMMIT_ROWS_PER_INSERT):
            chunk = rows[start:start + _COMMIT_ROWS_PER_INSERT]
            params: list[Any] = []
            for commit in chunk:
                params += [deployment.pk, commit["sha"], adapt(commit["authored_at"]),
                           str(commit.get("message") or "")[:5000]]
            # Only placeholders are joined into the text; every value is a parameter.
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute("INSERT INTO delivery_deploymentcommit (deployment_id, sha, authored_at, message) "
                           "VALUES " + values, params)  # noqa: S608


def deployment_record(*, service: Service, environment: Environment, actor: Any, status: str = "started",
                      kind: str = "normal", artifact: Artifact | None = None, version: str = "",
                      change: ChangeRequest | None = None, started_at: datetime | None = None,
                      finished_at: datetime | None = None, pipeline_run_id: str = "", pipeline_url: str = "",
                      commits: Iterable[dict] = (), rollback_of: Deployment | None = None, external_id: str = "",
                      check_privilege: bool = True, pipeline_template: str = "",
                      pipeline_template_version: str = "",
                      shared_resources: Sequence[str] | None = None) -> Deployment:
    """Record a deployment the way it happened. It consumes the gate allow that holds its slot's
    lock if that allow was given for this artifact and this change and no other deployment has
    used it (one allow, one deployment). Production without one is recorded all the same, flagged
    unauthorised. Reported by an account without the deployer privilege, it is refused (and that
    refusal is in the audit log).

    A deployment that starts (started / in progress) naming `shared_resources` holds them all
    until it finishes, or is refused 409 `resource_locked` with nothing recorded (the refusal is
    in the audit log). One recorded already finished holds nothing: it is recorded as it happened."""
    resolved = resolve_actor(actor)
    user = resolved.user
    now = timezone.now()
    if check_privilege and environment.is_production and not holds_privilege(user, DEPLOYER, service, environment):
        audit_event_record(action="delivery.deployment_refused", actor=actor, object_type="catalog.service",
                           object_id=str(service.pk), object_repr=service.slug, details={
                               "reason": "deployer_not_authorized", "environment": environment.slug,
                               "change": change.number if change else "", "pipeline_run_id": pipeline_run_id})
        raise NotAllowed(f"{user.get_username() if user else 'This caller'} does not hold the deployer privilege "
                         f"for {service.slug} in {environment.slug}.", code="deployer_not_authorized")
    if artifact is not None and artifact.service_id != service.id:
        raise InvalidInput("The artifact belongs to another service.", fields={"artifact": ["another service's"]})
    if artifact is not None and version and version != artifact.version:
        raise InvalidInput(f"The artifact {artifact.digest} is version {artifact.version}, not {version}.",
                           fields={"version": [f"the artifact is {artifact.version}"]})
    if status not in Deployment.Status.values:
        raise InvalidInput(f"Unknown status {status!r}.", fields={"status": ["unknown"]})
    finished = status in Deployment.FINISHED
    if finished and finished_at is None:
        finished_at = now
    started_at = started_at or now
    if finished_at is not None and finished_at < started_at:
        raise InvalidInput("finished_at is before started_at.", fields={"finished_at": ["before started_at"]})
    commit_rows = _clean_commits(commits)
    resources = resource_locks.resolve(shared_resources)
    try:
        return _deployment_insert(
            service=service, environment=environment, actor=actor, resolved=resolved, now=now, status=status,
            kind=kind, artifact=artifact, version=version, change=change, started_at=started_at,
            finished_at=finished_at, pipeline_run_id=pipeline_run_id, pipeline_url=pipeline_url,
            commit_rows=commit_rows, rollback_of=rollback_of, external_id=external_id,
            pipeline_template=pipeline_template, pipeline_template_version=pipeline_template_version,
            resources=resources)
    except resource_locks.ResourceLocked as refusal:
        # Written after the rollback, outside it: the refusal stays on the record.
        audit_event_record(action="delivery.deployment_refused", actor=actor, object_type="catalog.service",
                           object_id=str(service.pk), object_repr=service.slug, details={
                               "reason": refusal.code, "environment": environment.slug,
                               "shared_resources": [r.slug for r in resources],
                               "held": refusal.fields.get(resource_locks.FIELD, []),
                               "change": change.number if change else "", "pipeline_run_id": pipeline_run_id})
        raise


def _deployment_insert(*, service: Service, environment: Environment, actor: Any, resolved, now: datetime,
                       status: str, kind: str, artifact: Artifact | None, version: str,
                       change: ChangeRequest | None, started_at: datetime, finished_at: datetime | None,
                       pipeline_run_id: str, pipeline_url: str, commit_rows: list[dict],
                       rollback_of: Deployment | None, external_id: str, pipeline_template: str,
                       pipeline_template_version: str, resources: list) -> Deployment:
    """deployment_record's transaction, once its input is checked."""
    user = resolved.user
    finished = status in Deployment.FINISHED
    with atomic_as(actor):
        lock_id, by_version = _slot_lock_and_artifact(service=service, environment=environment,
                                                      version=version if artifact is None else "")
        artifact = artifact or by_version
        version = version or (artifact.version if artifact else "")
        lock = None
        if lock_id is not None:
            # Held until commit: recordings on one slot take their turn, so an allow is consumed once.
            lock = (DeploymentLock.objects.select_for_update(of=("self",)).select_related("gate_decision")
                    .filter(pk=lock_id).first())
        allow = _allow_for(lock, service=service, environment=environment, artifact=artifact, change=change, now=now)
        deployment = Deployment(
            service=service, environment=environment, artifact=artifact, version=version, change=change,
            status=status, kind=kind, started_at=started_at, finished_at=finished_at if finished else None,
            pipeline_run_id=pipeline_run_id, pipeline_url=pipeline_url, rollback_of=rollback_of,
            pipeline_template=pipeline_template, pipeline_template_version=pipeline_template_version,
            is_unauthorized=environment.is_production and allow is None, gate_decision=allow,
            external_id=external_id, created_by=user,
        )
        if allow is None:
            _saved(deployment, actor=actor)
        else:
            try:
                with transaction.atomic():
                    _saved(deployment, actor=actor)
            except IntegrityError:
                # The database's one-deployment-per-allow constraint: another recording used it first.
                if not Deployment.objects.filter(gate_decision=allow).exists():
                    raise
                allow, deployment.gate_decision = None, None
                deployment.is_unauthorized = environment.is_production
                _saved(deployment, actor=actor)
        unauthorized = deployment.is_unauthorized
        acquired = []
        if resources and not finished:
            acquired = resource_locks.acquire(deployment=deployment, resources=resources, at=now,
                                              timeout_minutes=gate.policy_for(environment).lock_timeout_minutes)
        _commits_insert(deployment, commit_rows)
        if allow is not None:
            if finished:
                lock.delete()
            else:
                lock.deployment = deployment
                lock.save(update_fields=["deployment"])
        _move_change(deployment=deployment, actor=actor)
        audit_event_record(action="delivery.deployment_recorded", target=deployment, actor=actor, details={
            "service": service.slug, "environment": environment.slug, "version": version, "status": status,
            "change": change.number if change else "", "pipeline_run_id": pipeline_run_id,
            "gate_decision": allow.pk if allow else None, "unauthorized": unauthorized, "commits": len(commit_rows),
            "external_id": external_id, "pipeline_template": pipeline_template,
            "pipeline_template_version": pipeline_template_version, "shared_resources_acquired": acquired,
        })
        _exercised(user=user if resolved.kind in ("user", "service_account") else None, service=service,
                   environment=environment, at=started_at)
        if kind == Deployment.Kind.ROLLBACK or status == Deployment.Status.ROLLED_BACK:
            _chat_rollback(deployment, user=user)
    return deployment


def _chat_rollback(deployment: Deployment, *, user) -> None:
    """The owning team's chat channels hear of a rollback: a rollback deployment recorded, or a
    deployment reported rolled back."""
    from django.urls import reverse

    service, environment = deployment.service, deployment.environment
    if deployment.kind == Deployment.Kind.ROLLBACK:
        title = f"Rollback of {service.slug} in {environment.slug} to {deployment.version or '?'}"
        text = (f"Rolls back deployment #{deployment.rollback_of_id}." if deployment.rollback_of_id
                else "A rollback deployment was recorded.")
    else:
        title = f"{service.slug} {deployment.version or ''} rolled back in {environment.slug}"
        text = f"Deployment #{deployment.pk} is reported rolled back."
    chat_notify(event="rollback", team_id=service.owner_team_id, target_type="delivery.deployment",
                target_id=deployment.pk, target_repr=f"deployment #{deployment.pk}", title=title, text=text,
                path=reverse("delivery:deployment", args=[deployment.pk]),
                facts=lambda: [("Service", service.slug), ("Environment", environment.slug),
                               ("Version", deployment.version or "—"), ("Status", deployment.status),
                               ("Change", deployment.change.number if deployment.change_id else "—"),
                               ("Reported by", user.get_username() if user else "—")])


_NEXT_STATUS = {
    Deployment.Status.STARTED: set(Deployment.Status.values) - {Deployment.Status.STARTED},
    Deployment.Status.IN_PROGRESS: {Deployment.Status.IN_PROGRESS, *Deployment.FINISHED},
    Deployment.Status.SUCCEEDED: {Deployment.Status.ROLLED_BACK},
    Deployment.Status.FAILED: {Deployment.Status.ROLLED_BACK},
    Deployment.Status.ROLLED_BACK: set(),
}


def deployment_update(*, deployment: Deployment, actor: Any, status: str | None = None,
                      finished_at: datetime | None = None, pipeline_url: str | None = None,
                      check_privilege: bool = True) -> Deployment:
    """Move a deployment on (started → in progress → succeeded / failed / rolled back)."""
    user = _user_of(actor)
    if check_privilege and deployment.environment.is_production and not holds_privilege(
            user, DEPLOYER, deployment.service, deployment.environment):
        raise NotAllowed(f"{user.get_username() if user else 'This caller'} does not hold the deployer privilege "
                         f"for {deployment.service.slug} in {deployment.environment.slug}.",
                         code="deployer_not_authorized")
    with atomic_as(actor):
        locked = Deployment.objects.select_for_update(of=("self",)).select_related("change", "service", "environment").get(
            pk=deployment.pk)
        before = locked.status
        if status and status != before:
            if status not in _NEXT_STATUS.get(before, set()):
                raise Conflict(f"A deployment that is {before.replace('_', ' ')} cannot become "
                               f"{status.replace('_', ' ')}.", code="invalid_transition",
                               fields={"status": [f"{before} → {status} is not allowed"]})
            locked.status = status
        if locked.status in Deployment.FINISHED:
            locked.finished_at = finished_at or locked.finished_at or timezone.now()
        elif finished_at is not None:
            raise InvalidInput("finished_at needs a finished status.", fields={"finished_at": ["not finished yet"]})
        if locked.finished_at and locked.finished_at < locked.started_at:
            raise InvalidInput("finished_at is before started_at.", fields={"finished_at": ["before started_at"]})
        if pipeline_url is not None:
            locked.pipeline_url = pipeline_url
        _saved(locked, actor=actor)
        released: list[str] = []
        if locked.status in Deployment.FINISHED:
            released = resource_locks.release(deployment=locked)
            DeploymentLock.objects.filter(service_id=locked.service_id, environment_id=locked.environment_id,
                                          deployment=locked).delete()
            if locked.gate_decision_id:
                DeploymentLock.objects.filter(gate_decision_id=locked.gate_decision_id).delete()
        if status and status != before:
            _move_change(deployment=locked, actor=actor)
            if locked.status == Deployment.Status.ROLLED_BACK:
                _chat_rollback(locked, user=user)
        audit_event_record(action="delivery.deployment_updated", target=locked, actor=actor, details={
            "from": before, "to": locked.status, "change": locked.change.number if locked.change else "",
            "pipeline_run_id": locked.pipeline_run_id, "shared_resources_released": released,
        })
    return locked


# --- webhooks -------------------------------------------------------------------------------

def evidence_record_build(*, artifact: Artifact, summary: dict, actor: Any) -> Evidence:
    """A pipeline run's outcome, reported by a webhook: evidence without a document."""
    with atomic_as(actor):
        evidence = _saved(Evidence(artifact=artifact, kind=Evidence.Kind.OTHER, summary=summary,
                                   pipeline_run_id=str(summary.get("run_id", ""))[:100]), actor=actor)
        audit_event_record(action="delivery.build_recorded", target=evidence, actor=actor,
                           details={"artifact": artifact.digest, **summary})
    return evidence


_PR_TRACKED = ("state", "change_id", "change_ref", "title", "draft", "head_ref", "head_sha", "base_ref",
               "merge_commit_sha", "service_id")


@dataclass
class PullRequestRecorded:
    pull_request: PullRequest
    created: bool
    stale: bool = False


def pull_request_record(*, provider: str, external_id: str, service: Service, change: ChangeRequest | None,
                        action: str, actor: Any, delivery_id: str = "", **fields: Any) -> PullRequestRecorded:
    """Create or bring up to date the pull request a webhook reported. A delivery older than the
    stored state (they may arrive out of order) changes nothing."""
    with atomic_as(actor):
        pr = PullRequest.objects.select_for_update().filter(external_id=external_id).first()
        created = pr is None
        if pr is None:
            pr = PullRequest(provider=provider, external_id=external_id)
        else:
            incoming = fields.get("provider_updated_at")
            if pr.provider_updated_at and incoming and incoming < pr.provider_updated_at:
                return PullRequestRecorded(pr, False, stale=True)
        before = [getattr(pr, name) for name in _PR_TRACKED]
        for name, value in fields.items():
            setattr(pr, name, value)
        pr.service, pr.change = service, change
        if not created and before == [getattr(pr, name) for name in _PR_TRACKED]:
            # Nothing we show has moved (a description edit, a re-sent event): no history row, no event.
            return PullRequestRecorded(pr, False)
        _saved(pr, actor=actor)
        audit_event_record(action="delivery.pull_request_recorded" if created else "delivery.pull_request_updated",
                           target=pr, actor=actor, details={
                               "action": action, "repository": pr.repository, "number": pr.number, "state": pr.state,
                               "service": service.slug, "change": change.number if change else "",
                               "change_ref": pr.change_ref, "head_sha": pr.head_sha,
                               "merge_commit_sha": pr.merge_commit_sha, "delivery": delivery_id})
    return PullRequestRecorded(pr, created)


def webhook_delivery_process(*, delivery_id: int, actor: Any) -> str:
    from . import github, gitlab
    from .models import WebhookDelivery

    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(of=("self",)).select_related("integration")
                    .filter(pk=delivery_id).first())
        if delivery is None or delivery.status != WebhookDelivery.Status.RECEIVED:
            return "skipped"
        handler = github if delivery.provider == "github" else gitlab
        try:
            with transaction.atomic():
                status, result = handler.process(delivery, actor)
        except PortalError as exc:
            status, result = WebhookDelivery.Status.FAILED, exc.message
        delivery.status, delivery.result, delivery.processed_at = status, result[:300], timezone.now()
        delivery.save(update_fields=["status", "result", "processed_at"])
    return result
