"""Benchmark: a SOX change-management evidence pack over a quarter with 10,000 changes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_audit .venv/bin/python bench/evidence_pack.py
    BENCH_SCALE=0.01 ...   (100 changes; quick)

Seeds (once; re-runs reuse it) a quarter of approved changes, each with two approvals, a gate
decision, an artifact with an evidence document record, a production deployment, history and
audit events; 3% of deployments have no change and 5% of changes are emergencies. Then, in a
child process so its peak memory is its own, it generates the pack (timed; peak RSS) and dumps
the same rows with raw SQL to a gzip CSV (timed) in the same run, and prints both and the ratio.
Aims: peak memory <= 300 MB whatever the size; pack time <= 5x the raw dump.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CHANGES = max(20, int(10_000 * SCALE))
QUARTER = (dt.datetime(2026, 4, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
PARAMS = {"control": "sox_change_management", "period_start": "2026-04-01", "period_end": "2026-06-30"}
TAG = f"bench-q2-{CHANGES}"


def _ensure_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup() -> None:
    import django

    django.setup()


def seed() -> None:
    from django.db import transaction
    from simple_history.utils import bulk_create_with_history

    from apps.accounts.models import Team, User
    from apps.audit.actor import Actor, acting_as
    from apps.audit.services import PendingEvent, audit_events_record_many
    from apps.catalog.models import Environment, Service
    from apps.change_types.models import ApprovalStage, ChangeType
    from apps.changes.models import Approval, ChangeRequest, EmergencyOverride
    from apps.delivery.models import Artifact, Deployment, Evidence, GateDecision

    if ChangeRequest.objects.filter(title__startswith=TAG).count() >= CHANGES:
        print(f"seed: {CHANGES} changes already present ({TAG})")
        return
    started = time.perf_counter()
    rng = random.Random(8)
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    users = [User.objects.get_or_create(username=f"bench-{n}", defaults={"email": f"bench-{n}@example.test"})[0]
             for n in range(12)]
    bot, _ = User.objects.get_or_create(username="bench-ci", defaults={"kind": User.Kind.SERVICE_ACCOUNT})
    services = [Service.objects.get_or_create(slug=f"bench-svc-{n}", defaults={
        "name": f"Bench service {n}", "owner_team": team, "tier": 2, "compliance_scopes": ["sox"]})[0]
        for n in range(20)]
    prod = Environment.objects.filter(is_production=True).first() or Environment.objects.create(
        slug="prod", name="Production", order=30, is_production=True)
    normal = ChangeType.objects.get_or_create(slug="normal", defaults={"name": "Normal"})[0]
    emergency = ChangeType.objects.get_or_create(slug="emergency", defaults={"name": "Emergency",
                                                                             "is_emergency": True})[0]
    stage = ApprovalStage.objects.filter(change_type=normal).order_by("order").first() or ApprovalStage.objects.create(
        change_type=normal, order=1, name="Peer review", approver_group="approver")
    span = (QUARTER[1] - QUARTER[0]).total_seconds() - 7200
    next_id = (ChangeRequest.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    batch = 1000
    with acting_as(Actor.for_command("bench_evidence_pack")):
        for offset in range(0, CHANGES, batch):
            size = min(batch, CHANGES - offset)
            with transaction.atomic():
                changes, approvals, overrides, artifacts, evidence, gates, deployments = [], [], [], [], [], [], []
                for i in range(size):
                    n = offset + i
                    pk = next_id + n
                    at = QUARTER[0] + dt.timedelta(seconds=rng.random() * span)
                    svc = services[n % len(services)]
                    req, impl = users[n % 12], users[(n + 1) % 12]
                    is_emergency = n % 20 == 0
                    approved = at - dt.timedelta(hours=rng.randint(1, 48))
                    if n % 50 == 7:
                        approved = at + dt.timedelta(hours=2)  # approved after deployment
                    changes.append(ChangeRequest(
                        pk=pk, number=ChangeRequest.format_number(pk), title=f"{TAG} change {n}",
                        description="Routine release " * 5, change_type=emergency if is_emergency else normal,
                        service=svc, environment=prod, requester=req, implementer=impl, state="closed",
                        compliance_scopes=["sox"], created_at=approved - dt.timedelta(days=1),
                        submitted_at=approved - dt.timedelta(hours=20), approved_at=None if is_emergency else approved,
                        closed_at=at + dt.timedelta(hours=3)))
                    if not is_emergency:
                        approvers = [users[(n + 3) % 12], users[(n + 5) % 12]]
                        if n % 97 == 3:
                            approvers[0] = req  # self-approval
                        approvals += [Approval(change_id=pk, stage=stage, stage_name=stage.name, approver=who,
                                               decision="approve", comment="ok", content_hash="c" * 64,
                                               decided_at=approved) for who in approvers]
                    else:
                        overrides.append(EmergencyOverride(
                            change_id=pk, authorised_by=users[(n + 7) % 12], reason="incident", authorised_at=at,
                            expires_at=at + dt.timedelta(hours=4),
                            retro_approved_at=None if n % 60 == 0 else at + dt.timedelta(days=1)))
                    digest = f"sha256:{pk:064x}"
                    artifacts.append(Artifact(service=svc, version=f"{TAG}-{pk}", digest=digest, git_sha=f"{pk:040x}",
                                              format="oci_image", created_by=bot, created_at=at))
                bulk_create_with_history(changes, ChangeRequest, batch_size=500, default_user=bot)
                bulk_create_with_history(approvals, Approval, batch_size=500, default_user=bot)
                bulk_create_with_history(overrides, EmergencyOverride, batch_size=500, default_user=bot)
                bulk_create_with_history(artifacts, Artifact, batch_size=500, default_user=bot)
                by_version = dict(Artifact.objects.filter(version__in=[a.version for a in artifacts])
                                  .values_list("version", "pk"))
                for change in changes:
                    art = by_version[f"{TAG}-{change.pk}"]
                    at = change.closed_at - dt.timedelta(hours=3)
                    evidence.append(Evidence(artifact_id=art, kind="junit", summary={"tests": 120, "failures": 0},
                                             filename="junit.xml", sha256="e" * 64, size=2048, created_by=bot,
                                             created_at=at))
                    gates.append(GateDecision(service=change.service, environment=prod, artifact_id=art,
                                              change_id=change.pk, decision="allow", reasons=[], requested_by=bot,
                                              created_at=at - dt.timedelta(minutes=5)))
                bulk_create_with_history(evidence, Evidence, batch_size=500, default_user=bot)
                GateDecision.objects.bulk_create(gates, batch_size=500)
                gate_ids = dict(GateDecision.objects.filter(change_id__in=[c.pk for c in changes])
                                .values_list("change_id", "pk"))
                for idx, change in enumerate(changes):
                    n = offset + idx
                    at = change.closed_at - dt.timedelta(hours=3)
                    deployments.append(Deployment(
                        service=change.service, environment=prod, artifact_id=by_version[f"{TAG}-{change.pk}"],
                        version=f"{TAG}-{change.pk}", change=None if n % 33 == 5 else change, status="succeeded",
                        started_at=at, finished_at=at + dt.timedelta(minutes=12), created_by=bot, created_at=at,
                        gate_decision_id=gate_ids.get(change.pk), pipeline_run_id=f"run-{n}"))
                bulk_create_with_history(deployments, Deployment, batch_size=500, default_user=bot)
                dep_ids = Deployment.objects.filter(version__in=[d.version for d in deployments]).values_list(
                    "pk", "change_id")
                events = []
                for change in changes:
                    events += [PendingEvent(action=a, object_type="changes.changerequest", object_id=str(change.pk),
                                            object_repr=str(change)[:300], details={"bench": True})
                               for a in ("change.submitted", "change.approved", "change.closed")]
                events += [PendingEvent(action="deployment.recorded", object_type="delivery.deployment",
                                        object_id=str(pk), details={"change": cid}) for pk, cid in dep_ids]
                audit_events_record_many(events=events, actor=bot)
            print(f"seed: {offset + size}/{CHANGES} changes", flush=True)
    print(f"seed: done in {time.perf_counter() - started:.1f}s")


RAW_SQL = [
    ("deployments", """SELECT d.* FROM delivery_deployment d JOIN catalog_environment e ON e.id = d.environment_id
        WHERE e.is_production AND COALESCE(d.finished_at, d.started_at) >= %s
        AND COALESCE(d.finished_at, d.started_at) < %s ORDER BY d.id"""),
    ("changes", """SELECT c.* FROM changes_changerequest c WHERE c.id IN (SELECT d.change_id FROM delivery_deployment d
        JOIN catalog_environment e ON e.id = d.environment_id WHERE e.is_production
        AND COALESCE(d.finished_at, d.started_at) >= %s AND COALESCE(d.finished_at, d.started_at) < %s)"""),
    ("approvals", """SELECT a.* FROM changes_approval a WHERE a.change_id IN (SELECT d.change_id FROM
        delivery_deployment d WHERE COALESCE(d.finished_at, d.started_at) >= %s AND COALESCE(d.finished_at, d.started_at) < %s)"""),
    ("history", """SELECT h.* FROM changes_historicalchangerequest h WHERE h.id IN (SELECT d.change_id FROM
        delivery_deployment d WHERE COALESCE(d.finished_at, d.started_at) >= %s AND COALESCE(d.finished_at, d.started_at) < %s)"""),
    ("gates", """SELECT g.* FROM delivery_gatedecision g WHERE g.change_id IN (SELECT d.change_id FROM
        delivery_deployment d WHERE COALESCE(d.finished_at, d.started_at) >= %s AND COALESCE(d.finished_at, d.started_at) < %s)"""),
    ("evidence", """SELECT v.* FROM delivery_evidence v WHERE v.artifact_id IN (SELECT d.artifact_id FROM
        delivery_deployment d WHERE COALESCE(d.finished_at, d.started_at) >= %s AND COALESCE(d.finished_at, d.started_at) < %s)"""),
    ("audit", """SELECT a.* FROM audit_auditevent a WHERE (a.object_type = 'changes.changerequest' AND a.object_id IN
        (SELECT d.change_id::text FROM delivery_deployment d WHERE COALESCE(d.finished_at, d.started_at) >= %s
        AND COALESCE(d.finished_at, d.started_at) < %s)) OR (a.object_type = 'delivery.deployment' AND a.object_id IN
        (SELECT d.id::text FROM delivery_deployment d WHERE COALESCE(d.finished_at, d.started_at) >= %s
        AND COALESCE(d.finished_at, d.started_at) < %s))"""),
]


def raw_dump() -> tuple[float, int]:
    """The baseline: the same rows straight from SQL into a gzip CSV, streamed."""
    import csv

    from django.db import connection, transaction

    rows = 0
    started = time.perf_counter()
    # Level 6, like the pack's deflate, so the comparison is like for like.
    with tempfile.TemporaryFile() as tmp, gzip.GzipFile(fileobj=tmp, mode="wb", compresslevel=6) as gz, \
            transaction.atomic():
        for name, sql in RAW_SQL:
            params = [QUARTER[0], QUARTER[1]] * (2 if name == "audit" else 1)
            if connection.vendor == "sqlite":
                sql = sql.replace("::text", "").replace("e.is_production", "e.is_production = 1")
            # A plain (client-side) cursor: a server-side one makes PostgreSQL pick fast-start
            # plans (cursor_tuple_fraction), several times slower for these semi-joins.
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                while True:
                    chunk = cursor.fetchmany(2000)
                    if not chunk:
                        break
                    writer.writerows(chunk)
                    rows += len(chunk)
                    gz.write(buffer.getvalue().encode())
                    buffer.seek(0)
                    buffer.truncate()
    return time.perf_counter() - started, rows


def generate_child() -> None:
    """Runs in a fresh process: the pack, then the raw dump; prints one JSON line."""
    _setup()
    from apps.audit.actor import Actor
    from apps.audit.packs.builder import PackBuilder
    from apps.audit.packs.scope import normalise_parameters

    params = normalise_parameters("control_period", PARAMS)
    progress = []
    started = time.perf_counter()
    with tempfile.TemporaryFile() as tmp:
        manifest = PackBuilder(params, generation={"bench": True, "by": Actor.for_command("bench").label},
                               on_progress=progress.append).build(tmp)
        size = tmp.tell()
    pack_seconds = time.perf_counter() - started
    pack_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    raw_seconds, raw_rows = raw_dump()
    print(json.dumps({"pack_seconds": pack_seconds, "pack_bytes": size, "files": len(manifest["files"]),
                      "counts": manifest["counts"], "peak_rss_mb": pack_rss, "raw_seconds": raw_seconds,
                      "raw_rows": raw_rows, "progress_updates": len(progress)}))


def main() -> None:
    if os.environ.get("BENCH_PHASE") == "generate":
        generate_child()
        return
    _ensure_database()
    _setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    seed()
    print(f"database: {connection.vendor}; scale {SCALE}: {CHANGES} changes in the quarter {PARAMS['period_start']}"
          f"..{PARAMS['period_end']}")
    out = subprocess.run([sys.executable, __file__], env={**os.environ, "BENCH_PHASE": "generate"},
                         capture_output=True, text=True, check=False)
    if out.returncode:
        print(out.stderr)
        raise SystemExit(out.returncode)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    counts = figures["counts"]
    ratio = figures["pack_seconds"] / max(figures["raw_seconds"], 1e-9)
    print(f"pack: {figures['pack_seconds']:.1f}s, {figures['pack_bytes'] / 1e6:.1f} MB, {figures['files']} files; "
          f"{counts['production_deployments']} production deployments, {counts['changes']} changes, "
          f"{counts['exceptions']} exceptions, {counts['audit_events']} audit events")
    print(f"peak memory of the generating process: {figures['peak_rss_mb']:.0f} MB (aim <= 300 MB)")
    print(f"raw SQL dump of the same rows: {figures['raw_seconds']:.2f}s ({figures['raw_rows']} rows)")
    print(f"ratio pack / raw dump: {ratio:.1f}x (aim <= 5x)")


if __name__ == "__main__":
    main()
