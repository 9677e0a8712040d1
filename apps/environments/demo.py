"""Demo environments data: provisioning history on dev, staging and production (one run from
the real `terraform show -json` plan in ../shared/fixtures/terraform/ when that folder is beside
the checkout; the fixtures are not copied into the project, so a plan of our own stands in
otherwise), one unauthorised production run; and the General Ledger's schema migrations across
dev, staging and production, declared by its newest artifact, with a failed-then-retried
migration, one applied in staging but not yet in production, and a refused checksum mismatch.

The configuration part (baselines, drift, a runtime mismatch) is config_demo.seed_config.

Imported like the other apps' year of history: rows with their history and imported audit
events naming the pipeline and when. Idempotent: each part is skipped once present."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from simple_history.utils import bulk_create_with_history

from apps.audit.services import audit_events_imported
from apps.changes.models import ChangeRequest
from apps.delivery.models import Artifact, Evidence
from apps.delivery.services import evidence_attach

from . import terraform
from .config_demo import seed_config
from .models import AppliedMigration, MigrationMismatch, Provision, ProvisionResource

INFRA_REPO = "https://git.example.test/infrastructure/live-environments"
DATABASE_SERVICE = "ledger"


def _shared_plan() -> dict | None:
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures" / "terraform" / "basic.plan.json"
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def _plan(resources: list[tuple[str, str, list[str]]], version: str = "1.9.8") -> dict:
    """A plan of our own, in the shape `terraform show -json` writes (values left out)."""
    return {"format_version": "1.2", "terraform_version": version, "resource_changes": [
        {"address": address, "mode": "managed", "type": rtype, "name": address.rsplit(".", 1)[-1],
         "change": {"actions": actions}} for address, rtype, actions in resources]}


NETWORK = _plan([("aws_vpc.main", "aws_vpc", ["create"]), ("aws_subnet.private[0]", "aws_subnet", ["create"]),
                 ("aws_subnet.private[1]", "aws_subnet", ["create"]),
                 ("aws_security_group.app", "aws_security_group", ["create"]),
                 ("data.aws_ami.base", "aws_ami", ["read"])])
SCALE_UP = _plan([("aws_autoscaling_group.app", "aws_autoscaling_group", ["update"]),
                  ("aws_launch_template.app", "aws_launch_template", ["update"]),
                  ("aws_vpc.main", "aws_vpc", ["no-op"]), ("aws_security_group.app", "aws_security_group", ["no-op"])])
DB_UPGRADE = _plan([("aws_db_parameter_group.ledger", "aws_db_parameter_group", ["delete", "create"]),
                    ("aws_db_instance.ledger", "aws_db_instance", ["update"]),
                    ("aws_vpc.main", "aws_vpc", ["no-op"])])
CLEANUP = _plan([("aws_s3_bucket.legacy_exports", "aws_s3_bucket", ["delete"]),
                 ("aws_iam_role.legacy_exporter", "aws_iam_role", ["delete"]),
                 ("aws_security_group.app", "aws_security_group", ["update"])])
NO_CHANGES = _plan([("aws_vpc.main", "aws_vpc", ["no-op"]), ("aws_security_group.app", "aws_security_group", ["no-op"])])

# (environment, days ago, tool, status, plan, with a change?, unauthorised?)
RUNS = [
    ("dev", 58, "terraform", "applied", "shared", False, False),
    ("dev", 40, "terraform", "applied", NETWORK, False, False),
    ("dev", 12, "opentofu", "applied", SCALE_UP, False, False),
    ("staging", 38, "terraform", "applied", NETWORK, False, False),
    ("staging", 10, "terraform", "applied", DB_UPGRADE, False, False),
    ("staging", 3, "terraform", "failed", CLEANUP, False, False),
    ("prod", 35, "terraform", "applied", NETWORK, True, False),
    ("prod", 9, "terraform", "planned", DB_UPGRADE, True, False),
    ("prod", 8, "terraform", "applied", DB_UPGRADE, True, False),
    ("prod", 2, "terraform", "applied", CLEANUP, False, True),  # destroyed buckets with no change: flagged
    ("prod", 1, "terraform", "planned", NO_CHANGES, False, False),
]

# The ledger's migrations: (version, description); checksums derived from the text.
MIGRATIONS = [("1", "create journal tables"), ("2", "add posting period"), ("3", "index entries by account"),
              ("4", "add currency to entries"), ("5", "backfill currency"), ("6", "split ledger by entity")]


def _checksum(version: str, description: str) -> str:
    import hashlib

    return hashlib.sha256(f"{version}:{description}".encode()).hexdigest()[:16]


def seed(ctx) -> None:
    envs = ctx.environments
    if not all(slug in envs for slug in ("dev", "staging", "prod")):
        return
    bot = ctx.users.get("ci-bot")
    _provisions(ctx, envs, bot)
    _migrations(ctx, envs, bot)
    seed_config(ctx)


def _provisions(ctx, envs, bot) -> None:
    if Provision.objects.exists():
        ctx.say("provisioning runs already present — skipped")
        return
    shared = _shared_plan() or NETWORK
    change = (ChangeRequest.objects.filter(environment=envs["prod"], service__slug="k8s-platform")
              .exclude(approved_at=None).order_by("-approved_at").first())
    provisions, resources = [], []
    for slug, days, tool, status, plan, with_change, unauthorized in RUNS:
        parsed = terraform.parse(shared if plan == "shared" else plan)
        at = ctx.now - timedelta(days=days, hours=ctx.rng.randint(1, 9))
        provision = Provision(
            environment=envs[slug], tool=tool, repository=INFRA_REPO, git_sha=f"{ctx.rng.getrandbits(160):040x}",
            pipeline_run_id=f"tf-{ctx.rng.randint(10000, 99999)}", status=status,
            change=change if with_change and slug == "prod" else None, has_plan=True,
            plan_format_version=parsed.format_version, tool_version=parsed.tool_version,
            is_unauthorized=unauthorized, created_by=bot, created_at=at, **Provision.counts(parsed.summary))
        provisions.append(provision)
        resources.append(parsed.resources)
    bulk_create_with_history(provisions, Provision, default_user=bot)
    stored = list(Provision.objects.order_by("id"))
    ProvisionResource.objects.bulk_create([
        ProvisionResource(provision=p, address=r.address, resource_type=r.resource_type, mode=r.mode, action=r.action)
        for p, rs in zip(stored, resources, strict=True) for r in rs])
    audit_events_imported(stored, action="environments.provision_recorded", actor_id_of=lambda p: p.created_by_id,
                          occurred_at_of=lambda p: p.created_at,
                          details_of=lambda p: {"environment_id": p.environment_id, "status": p.status,
                                                "summary": p.summary, "unauthorized": p.is_unauthorized})
    ctx.say(f"{len(stored)} provisioning runs ({sum(p.is_unauthorized for p in stored)} unauthorised)")


def _migrations(ctx, envs, bot) -> None:
    service = ctx.services.get(DATABASE_SERVICE)
    if service is None or AppliedMigration.objects.filter(service=service).exists():
        ctx.say("schema migrations already present — skipped")
        return
    declared = [{"version": v, "description": d, "checksum": _checksum(v, d)} for v, d in MIGRATIONS]
    # The release in production under a change carries 1-5 (its change page shows where each
    # ran); the newest build carries 6 as well, applied in staging and waiting for production.
    newest = Artifact.objects.filter(service=service).order_by("-created_at", "-id").first()
    in_prod = (Artifact.objects.filter(service=service, deployments__environment=envs["prod"],
                                       deployments__change__isnull=False).order_by("-created_at", "-id").first())
    for artifact, carried in ((in_prod, declared[:5]), (newest, declared)):
        if artifact is not None and not Evidence.objects.filter(artifact=artifact, kind="migrations").exists():
            evidence_attach(artifact=artifact, kind="migrations", actor=bot or ctx.users["admin"],
                            data=json.dumps({"tool": "flyway", "migrations": carried}).encode(),
                            filename="flyway-migrations.json")
    rows = []

    def applied(env, m, days, status="success"):
        rows.append(AppliedMigration(service=service, environment=envs[env], tool="flyway", version=m["version"],
                                     description=m["description"], checksum=m["checksum"], status=status,
                                     applied_at=ctx.now - timedelta(days=days), pipeline_run_id="flyway-demo",
                                     created_by=bot, created_at=ctx.now - timedelta(days=days)))

    for i, m in enumerate(declared):
        applied("dev", m, 60 - i * 9)
        if m["version"] == "5":  # the backfill timed out in staging once; the retry succeeded
            applied("staging", m, 55 - i * 9, status="failed")
        applied("staging", m, 54 - i * 9)
        if m["version"] != "6":  # 6 ran in staging two days ago and waits for production
            applied("prod", m, 50 - i * 9)
    bulk_create_with_history(rows, AppliedMigration, default_user=bot)
    stored = list(AppliedMigration.objects.filter(service=service).order_by("id"))
    # Someone edited migration 3 after it ran and a dev pipeline reported it: refused, kept as a finding.
    edited = declared[2]
    mismatch = MigrationMismatch(service=service, environment=envs["dev"], tool="flyway", version=edited["version"],
                                 applied_checksum=edited["checksum"], reported_checksum="e" * 16,
                                 reported_status="success", pipeline_run_id="flyway-demo-edited",
                                 first_seen_at=ctx.now - timedelta(days=4), last_seen_at=ctx.now - timedelta(days=4),
                                 created_by=bot)
    bulk_create_with_history([mismatch], MigrationMismatch, default_user=bot)
    audit_events_imported(stored, action="environments.migrations_applied", actor_id_of=lambda m: m.created_by_id,
                          occurred_at_of=lambda m: m.created_at,
                          details_of=lambda m: {"version": m.version, "status": m.status,
                                                "environment_id": m.environment_id})
    audit_events_imported(MigrationMismatch.objects.filter(service=service),
                          action="environments.migration_checksum_mismatch", actor_id_of=lambda m: m.created_by_id,
                          occurred_at_of=lambda m: m.last_seen_at, details_of=lambda m: {"version": m.version})
    ctx.say(f"{len(stored)} applied migrations of {service.slug} (6 applied in staging, not yet in production)")
