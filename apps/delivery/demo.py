"""Demo delivery data: 12 months of artifacts, evidence, gate decisions and deployments with
their commits for every service, by teams of visibly different delivery performance.

Payments ships almost every working day and rarely fails; data-platform ships weekly with
several failures a month; the others sit in between. Everything is bulk-inserted."""

from __future__ import annotations

import base64
import hashlib
from bisect import bisect_left
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat, LPad

from apps.accounts.models import User
from apps.audit.services import audit_events_imported
from apps.changes.models import ChangeRequest

from .models import (
    Artifact,
    Deployment,
    DeploymentCommit,
    EnvironmentPolicy,
    Evidence,
    GateDecision,
    SigningKey,
    VersionPolicy,
    WebhookIntegration,
)

# team: (prod releases per week, failure rate, lead time hours (min, max), signs artifacts)
PROFILES = {
    "payments": (5.5, 0.03, (4, 30), True),
    "identity": (3.0, 0.07, (12, 72), True),
    "storefront": (4.0, 0.12, (6, 48), False),
    "data-platform": (1.0, 0.28, (72, 240), False),
    "mobile": (0.6, 0.15, (48, 200), False),
    "infrastructure": (2.0, 0.10, (12, 96), False),
}
DEFAULT_PROFILE = (2.0, 0.1, (12, 96), False)
CLOSED_STATES = ("completed", "failed", "rolled_back", "closed")


def _signing_key(team, rng) -> tuple[SigningKey, ed25519.Ed25519PrivateKey]:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(rng.getrandbits(8) for _ in range(32)))
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = SigningKey.objects.create(team=team, name=f"{team.slug} release key", algorithm="ed25519",
                                    public_key_pem=pem, fingerprint=hashlib.sha256(der).hexdigest())
    return key, private


def _policies(envs) -> None:
    EnvironmentPolicy.objects.get_or_create(environment=envs["staging"], defaults={
        "tests_must_pass": True, "max_critical": 0, "lock_timeout_minutes": 30})
    EnvironmentPolicy.objects.get_or_create(environment=envs["prod"], defaults={
        "tests_must_pass": True, "max_critical": 0, "max_high": 3, "license_deny": ["AGPL-3.0-only", "SSPL-1.0"],
        "promotion_max_age_days": 14, "lock_timeout_minutes": 60, "allowed_formats": ["oci_image", "rpm"]})


def _standard_changes(ctx, deployments: list[Deployment], decisions: list[GateDecision], bot) -> None:
    """Pipelines deploy production under pre-approved standard changes (one per release); the
    few unauthorised deployments stay without one, as reconciliation should show."""
    from apps.change_types.models import ChangeType

    standard = ChangeType.objects.filter(slug="standard").first()
    if standard is None:
        return
    outcome = {"succeeded": "completed", "failed": "failed", "rolled_back": "rolled_back"}
    todo = [d for d in deployments if d.environment.is_production and d.change is None and not d.is_unauthorized]
    changes = []
    for i, d in enumerate(todo):
        at = d.started_at
        changes.append(ChangeRequest(
            number=f"TMP-{i}", title=f"Deploy {d.service.slug} {d.version.split('+')[0]}", change_type=standard,
            service=d.service, environment=d.environment, requester=bot, implementer=bot, state=outcome[d.status],
            planned_start=at - timedelta(hours=1), planned_end=at + timedelta(hours=3), rollout_strategy="rolling",
            rollback_plan="Redeploy the previous version.", compliance_scopes=d.service.compliance_scopes,
            created_at=at - timedelta(hours=3), submitted_at=at - timedelta(hours=3), approved_at=at - timedelta(hours=3),
            implementation_started_at=at, implemented_at=d.finished_at))
    ChangeRequest.objects.bulk_create(changes, batch_size=2000)
    # Numbers follow the ids (ChangeRequest.format_number), set in one statement.
    ChangeRequest.objects.filter(number__startswith="TMP-").update(
        number=Concat(Value("CHG-"), LPad(Cast("id", CharField()), 6, Value("0"))))
    by_deployment = dict(zip((id(d) for d in todo), changes, strict=True))
    for d in todo:
        d.change = by_deployment[id(d)]
    by_gate = {id(d.gate_decision): d for d in todo if d.gate_decision is not None}
    for g in decisions:
        if g.change is None and id(g) in by_gate:
            g.change = by_gate[id(g)].change
    ctx.say(f"{len(changes)} standard changes for pipeline releases")


def seed(ctx) -> None:  # noqa: C901 — one linear script of demo data
    if Artifact.objects.exists():
        ctx.say("delivery already seeded")
        return
    rng, now, envs = ctx.rng, ctx.now, ctx.environments
    bot = ctx.users.get("ci-bot") or User.objects.filter(username="ci-bot").first()
    _policies(envs)
    if "payments-api" in ctx.services:
        VersionPolicy.objects.get_or_create(service=ctx.services["payments-api"],
                                            defaults={"pattern": "{semver}+{git_sha:7}.{pipeline_id}"})
    WebhookIntegration.objects.get_or_create(provider="github", name="GitHub (demo)",
                                             defaults={"secret": "demo-github-secret"})
    keys = {}
    for slug, team in ctx.teams.items():
        if PROFILES.get(slug, DEFAULT_PROFILE)[3]:
            keys[team.pk] = _signing_key(team, rng)

    changes_by_service: dict[int, list[ChangeRequest]] = {}
    for change in (ChangeRequest.objects.filter(environment=envs["prod"], state__in=CLOSED_STATES)
                   .exclude(planned_start=None).order_by("planned_start")):
        changes_by_service.setdefault(change.service_id, []).append(change)

    artifacts: list[Artifact] = []
    plans: list[dict] = []
    start = now - timedelta(days=365)
    pipeline = 1000
    for service in ctx.services.values():
        per_week, failure_rate, lead, signs = PROFILES.get(service.owner_team.slug, DEFAULT_PROFILE)
        key = keys.get(service.owner_team_id)
        minor, patch = rng.randint(1, 4), 0
        day = start
        while day < now - timedelta(hours=6):
            day += timedelta(days=1)
            if day.weekday() >= 5 and rng.random() < 0.85:
                continue
            if rng.random() > per_week / 5:
                continue
            patch += 1
            if rng.random() < 0.05:
                minor, patch = minor + 1, 0
            pipeline += 1
            sha = hashlib.sha1(f"{service.slug}{pipeline}".encode(), usedforsecurity=False).hexdigest()
            version = f"{minor // 10 + 1}.{minor}.{patch}+{sha[:7]}.{pipeline}"
            digest = "sha256:" + hashlib.sha256(f"{service.slug}:{version}".encode()).hexdigest()
            built = day.replace(hour=rng.randint(8, 15), minute=rng.randint(0, 59), second=0, microsecond=0)
            if built > now - timedelta(hours=6):
                break
            signature, status = "", "unsigned"
            if key is not None:
                signature = base64.b64encode(key[1].sign(digest.encode())).decode()
                status = "valid"
            artifacts.append(Artifact(service=service, version=version, digest=digest, git_sha=sha,
                                      pipeline_id=str(pipeline), build_id=f"b{pipeline}", format="oci_image",
                                      signature=signature, signature_status=status,
                                      signing_key=key[0] if key else None, created_by=bot, created_at=built))
            plans.append({"service": service, "built": built, "failure_rate": failure_rate, "lead": lead,
                          "sha": sha, "version": version})
    Artifact.objects.bulk_create(artifacts, batch_size=2000)
    ctx.say(f"{len(artifacts)} artifacts")

    evidence: list[Evidence] = []
    decisions: list[GateDecision] = []
    deployments: list[Deployment] = []
    commit_plan: list[tuple[int, list[tuple[str, object, str]]]] = []
    used_changes: set[int] = set()
    for artifact, plan in zip(artifacts, plans, strict=True):
        built = plan["built"]
        fails = rng.random() < plan["failure_rate"]
        tests = rng.randint(120, 900)
        # Full evidence for the last four months; older artifacts keep their test results only.
        recent = built > now - timedelta(days=120)
        evidence += [
            Evidence(artifact=artifact, kind="junit", created_at=built, created_by=bot,
                     summary={"tests": tests, "failures": 0, "errors": 0, "skipped": rng.randint(0, 9),
                              "passed": tests, "suites": 4, "ok": True, "failed_cases": []}),
            Evidence(artifact=artifact, kind="sarif", created_at=built, created_by=bot, summary={
                "tools": ["semgrep"], "results": 0, "by_level": {"error": 0, "warning": rng.randint(0, 6), "note": 3},
                "by_severity": {"critical": 0, "high": rng.randint(0, 2), "medium": rng.randint(0, 6), "low": 3,
                                "info": 0}, "suppressed": {"count": rng.randint(0, 2)}, "top_findings": []}),
            Evidence(artifact=artifact, kind="cyclonedx", created_at=built, created_by=bot, summary={
                "spec_version": "1.5", "components": rng.randint(40, 300),
                "licenses": {"MIT": rng.randint(20, 120), "Apache-2.0": rng.randint(10, 80), "BSD-3-Clause": 9},
                "expressions": {"MIT": 60, "Apache-2.0": 30, "BSD-3-Clause": 9}, "unknown": rng.randint(0, 3),
                "by_severity": {"critical": 0, "high": 0, "medium": 1, "low": 2, "info": 0}}),
        ][:3 if recent else 1]
        # dev, then staging an hour later, then production (after lead time), with commits.
        lead_hours = rng.uniform(*plan["lead"])
        authored = [built - timedelta(hours=rng.uniform(0.5, lead_hours)) for _ in range(rng.randint(1, 5))]
        commits = [(hashlib.sha1(f"{plan['sha']}{i}".encode(), usedforsecurity=False).hexdigest(), at, f"Change {i} for {plan['version']}")
                   for i, at in enumerate(sorted(authored))]
        at = built + timedelta(minutes=20)
        for env_slug in ("dev", "staging", "prod"):
            env = envs[env_slug]
            if env_slug == "staging":
                at += timedelta(hours=1)
            if env_slug == "prod":
                at += timedelta(hours=rng.uniform(1, 30))
                if at > now - timedelta(minutes=30):
                    break
            status = "succeeded"
            if env_slug == "prod" and fails:
                status = rng.choice(["failed", "failed", "rolled_back"])
            change = None
            if env_slug == "prod":
                candidates = changes_by_service.get(plan["service"].pk, [])
                index = bisect_left([c.planned_start for c in candidates], at - timedelta(days=2))
                for c in candidates[index:index + 4]:
                    if c.pk not in used_changes and abs((c.planned_start - at).total_seconds()) < 3 * 86400:
                        change = c
                        used_changes.add(c.pk)
                        break
            gate = None
            unauthorized = False
            if env.is_production:
                unauthorized = rng.random() < 0.012
                if rng.random() < 0.06:
                    code = rng.choice(["tests_failed", "not_promoted", "outside_maintenance_window",
                                       "deployment_in_progress", "vulnerabilities_over_threshold"])
                    decisions.append(GateDecision(service=plan["service"], environment=env, artifact=artifact,
                                                  artifact_ref=artifact.digest, change=change, decision="deny",
                                                  reasons=[{"code": code, "severity": "deny",
                                                            "message": code.replace("_", " ").capitalize() + "."}],
                                                  requested_by=bot, pipeline_run_id=str(artifact.pipeline_id),
                                                  duration_ms=rng.uniform(4, 20), created_at=at - timedelta(minutes=40)))
                if not unauthorized:
                    gate = GateDecision(service=plan["service"], environment=env, artifact=artifact,
                                        artifact_ref=artifact.digest, change=change, decision="allow", reasons=[],
                                        requested_by=bot, pipeline_run_id=str(artifact.pipeline_id),
                                        duration_ms=rng.uniform(4, 20), created_at=at - timedelta(minutes=2))
                    decisions.append(gate)
            duration = timedelta(minutes=rng.uniform(3, 25))
            if not env.is_production and not recent:
                continue  # pre-production history is kept for four months, production for twelve
            deployments.append(Deployment(
                service=plan["service"], environment=env, artifact=artifact, version=artifact.version, change=change,
                status=status, kind="normal", started_at=at, finished_at=at + duration,
                pipeline_run_id=str(artifact.pipeline_id), pipeline_url=f"https://ci.example.test/runs/{artifact.pipeline_id}",
                is_unauthorized=unauthorized, gate_decision=gate, created_by=bot, created_at=at))
            if env.is_production:  # lead time is measured on production (METRICS.md)
                commit_plan.append((len(deployments) - 1, commits))
            if status != "succeeded":
                break
    _standard_changes(ctx, deployments, decisions, bot)
    GateDecision.objects.bulk_create(decisions, batch_size=2000)
    for d in deployments:
        d.gate_decision_id = d.gate_decision.pk if d.gate_decision is not None else None
    Deployment.objects.bulk_create(deployments, batch_size=2000)
    Evidence.objects.bulk_create(evidence, batch_size=2000)
    DeploymentCommit.objects.bulk_create(
        [DeploymentCommit(deployment=deployments[i], sha=sha, authored_at=authored, message=message)
         for i, commits in commit_plan for sha, authored, message in commits], batch_size=5000)
    # Recovery: each failed production deployment is followed by a rollback to the last good version.
    rollbacks = []
    last_good: dict[int, Deployment] = {}
    for d in deployments:
        if not d.environment.is_production:
            continue
        if d.status == "succeeded":
            last_good[d.service_id] = d
        elif d.service_id in last_good:
            good = last_good[d.service_id]
            at = d.finished_at + timedelta(minutes=rng.uniform(10, 240) if d.service.owner_team.slug != "data-platform"
                                           else rng.uniform(120, 2000))
            if at < now:
                rollbacks.append(Deployment(service=d.service, environment=d.environment, artifact=good.artifact,
                                            version=good.version, status="succeeded", kind="rollback", rollback_of=d,
                                            started_at=at, finished_at=at + timedelta(minutes=6), change=None,
                                            is_unauthorized=False, created_by=bot, created_at=at,
                                            pipeline_run_id=f"rb-{d.pk}"))
    Deployment.objects.bulk_create(rollbacks, batch_size=2000)
    # The year of history goes into the audit log too, as imported events naming who acted and when.
    audit_events_imported(decisions, action=lambda g: f"delivery.gate_{g.decision}",
                          actor_id_of=lambda g: g.requested_by_id, occurred_at_of=lambda g: g.created_at,
                          details_of=lambda g: {"reasons": [r.get("code", "") for r in g.reasons]})
    audit_events_imported(deployments + rollbacks, action="delivery.deployment_recorded",
                          actor_id_of=lambda d: d.created_by_id, occurred_at_of=lambda d: d.created_at,
                          repr_of=lambda d: f"{d.version} ({d.kind})",
                          details_of=lambda d: {"status": d.status, "environment_id": d.environment_id,
                                                "service_id": d.service_id})
    ctx.say(f"{len(deployments) + len(rollbacks)} deployments, {len(decisions)} gate decisions, "
            f"{len(evidence)} evidence summaries")
