"""Pipeline API benchmark: the gate and deployment recording with 1,000,000 deployments stored.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_delivery_bench .venv/bin/python bench/pipeline_api.py
    BENCH_SCALE=0.01 ... for a quick run (scales the stored deployments and the request counts)
    BENCH_GATE_CHECKS=300 BENCH_POSTS=600 ... bound the request counts explicitly

1. Fills the database (generate_series, in PostgreSQL) with 1,000,000 deployments over 200
   services and 20,000 artifacts with their evidence summaries.
2. Gate checks: POST /api/v1/gates/check/ through the whole Django stack in this process
   (authentication, scopes, every rule, the decision row, the lock, the audit event): p50/p95
   server time (after one warm-up round). Baseline: the same rule queries and inserts as
   hand-written SQL.
3. POST /api/v1/deployments/ with 20 commits each, through gunicorn (2 workers) on 127.0.0.1
   only, a bounded number of prepared requests from 4 client threads on bare sockets (the
   client's own CPU per request is printed: it shares the cores): requests/s, and the ratio to
   inserting the same rows (deployment, 20 commits; no history or audit row) with raw SQL, one
   transaction per deployment, in this process.

It deletes the bench services' deployments before filling: use your own database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
DEPLOYMENTS = max(2000, int(1_000_000 * SCALE))
SERVICES = 200
ARTIFACTS = max(400, int(20_000 * SCALE))
GATE_CHECKS = int(os.environ.get("BENCH_GATE_CHECKS", max(100, min(1000, int(1000 * SCALE * 10)))))
POSTS = int(os.environ.get("BENCH_POSTS", max(200, min(3000, int(3000 * SCALE * 10)))))
CLIENT_THREADS = 4
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "1"))
COMMITS = 20


def say(msg: str) -> None:
    print(msg, flush=True)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def setup_fixtures():
    from guardian.shortcuts import assign_perm

    from apps.accounts.models import Team, User
    from apps.accounts.roles import ensure_roles
    from apps.accounts.services import api_token_create
    from apps.catalog.models import Environment, Service
    from apps.delivery.models import EnvironmentPolicy

    ensure_roles()
    team, _ = Team.objects.get_or_create(slug="bench-team", defaults={"name": "Bench team"})
    bot, _ = User.objects.get_or_create(username="bench-bot", defaults={"kind": User.Kind.SERVICE_ACCOUNT,
                                                                         "owner_team": team})
    envs = {}
    for slug, name, order, prod in (("dev", "Development", 10, False), ("staging", "Staging", 20, False),
                                    ("prod", "Production", 30, True)):
        envs[slug] = Environment.objects.filter(slug=slug).first() or Environment.objects.create(
            slug=slug, name=name, order=order, is_production=prod)
    EnvironmentPolicy.objects.get_or_create(environment=envs["prod"], defaults={
        "tests_must_pass": True, "max_critical": 0, "max_high": 3, "license_deny": ["AGPL-3.0-only"],
        "promotion_max_age_days": 3650})
    services = []
    for i in range(SERVICES):
        svc, _ = Service.objects.get_or_create(slug=f"bench-svc-{i:03d}", defaults={"name": f"Bench {i}",
                                                                                   "owner_team": team, "tier": 2})
        services.append(svc)
    for svc in services[:20]:
        assign_perm("catalog.deploy_service", bot, svc)
    _, token = api_token_create(user=bot, actor=bot, name="bench", scopes=["delivery:read", "delivery:write"])
    return bot, envs, services, token


def fill(services, envs, bot) -> None:
    """Deployments, artifacts and evidence generated inside PostgreSQL."""
    ids = [s.pk for s in services]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM delivery_deployment WHERE service_id = ANY(%s)", [ids])
        have = cur.fetchone()[0]
        if have >= DEPLOYMENTS:
            say(f"  {have} deployments already stored")
            return
        t = time.perf_counter()
        cur.execute("DELETE FROM delivery_deploymentlock WHERE service_id = ANY(%s)", [ids])
        cur.execute("UPDATE delivery_deployment SET gate_decision_id = NULL WHERE service_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM delivery_deploymentcommit WHERE deployment_id IN "
                    "(SELECT id FROM delivery_deployment WHERE service_id = ANY(%s))", [ids])
        cur.execute("DELETE FROM delivery_deployment WHERE service_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM delivery_gatedecision WHERE service_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM delivery_evidence WHERE artifact_id IN "
                    "(SELECT id FROM delivery_artifact WHERE service_id = ANY(%s))", [ids])
        cur.execute("DELETE FROM delivery_artifact WHERE service_id = ANY(%s)", [ids])
        cur.execute("""
            INSERT INTO delivery_artifact (service_id, version, digest, git_sha, pipeline_id, build_id, format,
                                           signature, signature_status, created_by_id, created_at)
            SELECT (%(ids)s::bigint[])[1 + (g %% %(n)s)], '1.0.' || g, 'sha256:' || encode(sha256(('bench' || g)::bytea), 'hex'),
                   md5(g::text), g::text, 'b' || g, 'oci_image', '', 'unsigned', %(bot)s, now() - (g || ' minutes')::interval
            FROM generate_series(1, %(a)s) g""", {"ids": ids, "n": len(ids), "bot": bot.pk, "a": ARTIFACTS})
        cur.execute("""
            INSERT INTO delivery_evidence (artifact_id, kind, summary, document, filename, sha256, size,
                                           pipeline_run_id, created_at)
            SELECT a.id, k.kind, k.summary::jsonb, '', '', '', 0, '', a.created_at
            FROM delivery_artifact a CROSS JOIN (VALUES
              ('junit', '{"tests": 200, "failures": 0, "errors": 0, "skipped": 2, "passed": 198}'),
              ('sarif', '{"tools": ["semgrep"], "by_severity": {"critical": 0, "high": 1, "medium": 3, "low": 2}}'),
              ('cyclonedx', '{"components": 120, "expressions": {"MIT": 80, "Apache-2.0": 40}, "unknown": 0,
                              "by_severity": {"critical": 0, "high": 0}}')) AS k(kind, summary)
            WHERE a.service_id = ANY(%(ids)s)""", {"ids": ids})
        cur.execute("""
            INSERT INTO delivery_deployment (service_id, environment_id, artifact_id, version, status, kind,
                started_at, finished_at, pipeline_run_id, pipeline_url, is_unauthorized, created_by_id, created_at,
                external_id, pipeline_template, pipeline_template_version)
            SELECT a.service_id, (%(envs)s::bigint[])[1 + (g %% 3)], a.id, a.version,
                   CASE WHEN g %% 17 = 0 THEN 'failed' ELSE 'succeeded' END, 'normal',
                   now() - (g || ' seconds')::interval * 30, now() - (g || ' seconds')::interval * 30 + interval '5 minutes',
                   g::text, '', false, %(bot)s, now(), '', '', ''
            FROM generate_series(1, %(d)s) g
            JOIN delivery_artifact a ON a.id = (SELECT min(id) FROM delivery_artifact WHERE service_id = ANY(%(ids)s))
                                               + (g %% %(a)s)""",
                    {"envs": [envs["dev"].pk, envs["staging"].pk, envs["prod"].pk], "bot": bot.pk, "d": DEPLOYMENTS,
                     "ids": ids, "a": ARTIFACTS})
        cur.execute("ANALYZE delivery_deployment; ANALYZE delivery_artifact; ANALYZE delivery_evidence")
        say(f"  stored {DEPLOYMENTS} deployments, {ARTIFACTS} artifacts in {time.perf_counter() - t:.1f} s")


def bench_gate(services, envs, token) -> None:
    from apps.delivery.models import Artifact, Deployment, DeploymentLock

    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    # One artifact per deployable service, promoted to staging.
    candidates = []
    for svc in services[:20]:
        artifact = Artifact.objects.filter(service=svc).order_by("-id").first()
        Deployment.objects.get_or_create(service=svc, environment=envs["staging"], artifact=artifact,
                                         version=artifact.version, status="succeeded", pipeline_run_id="bench-promo",
                                         defaults={"finished_at": timezone.now() - timedelta(hours=1)})
        candidates.append((svc, artifact))
    def run(count: int) -> tuple[list[float], dict[str, int]]:
        times, decisions = [], {"allow": 0, "deny": 0}
        for i in range(count):
            svc, artifact = candidates[i % len(candidates)]
            body = json.dumps({"service": svc.slug, "environment": "prod", "artifact": artifact.digest,
                               "pipeline_run_id": f"g{i}"})
            t = time.perf_counter()
            response = client.post("/api/v1/gates/check/", body, content_type="application/json", **auth)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.content
            decisions[response.json()["decision"]] += 1
            if i % len(candidates) == len(candidates) - 1:
                DeploymentLock.objects.filter(service__in=[c[0] for c in candidates]).delete()
        return times, decisions

    run(len(candidates))  # warm the connection and this process's caches
    times, decisions = run(GATE_CHECKS)
    say(f"(a) gate checks: {GATE_CHECKS} calls, p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms, "
        f"max {max(times):.1f} ms  ({decisions['allow']} allow / {decisions['deny']} deny — no change given, so prod "
        "denies change_not_approved after evaluating every rule)")
    # Baseline: the rule queries and the decision insert as plain SQL.
    svc, artifact = candidates[0]
    raw = []
    with connection.cursor() as cur:
        for _ in range(GATE_CHECKS):
            t = time.perf_counter()
            cur.execute("SELECT id FROM delivery_artifact WHERE service_id=%s AND digest=%s", [svc.pk, artifact.digest])
            cur.execute("SELECT kind, summary FROM delivery_evidence WHERE artifact_id=%s ORDER BY created_at DESC",
                        [artifact.pk])
            cur.fetchall()
            cur.execute("SELECT 1 FROM delivery_deployment WHERE artifact_id=%s AND environment_id=%s AND "
                        "status='succeeded' LIMIT 1", [artifact.pk, envs["staging"].pk])
            cur.execute("SELECT 1 FROM delivery_deploymentlock WHERE service_id=%s AND environment_id=%s LIMIT 1",
                        [svc.pk, envs["prod"].pk])
            cur.execute("SELECT 1 FROM delivery_deployment WHERE service_id=%s AND environment_id=%s AND "
                        "status IN ('started','in_progress') AND started_at > now() - interval '1 hour' LIMIT 1",
                        [svc.pk, envs["prod"].pk])
            cur.execute("INSERT INTO delivery_gatedecision (service_id, environment_id, artifact_id, artifact_ref, "
                        "change_ref, decision, reasons, emergency_override, pipeline_run_id, duration_ms, created_at, "
                        "pipeline_template, pipeline_template_version) "
                        "VALUES (%s,%s,%s,%s,'','deny','[]',false,'raw',0,now(),'','')",
                        [svc.pk, envs["prod"].pk, artifact.pk, artifact.digest])
            raw.append((time.perf_counter() - t) * 1000)
    say(f"    raw SQL baseline (same queries + insert): p50 {percentile(raw, 50):.2f} ms, p95 {percentile(raw, 95):.2f} ms;"
        f" ratio p95 API / raw {percentile(times, 95) / max(percentile(raw, 95), 1e-6):.1f}x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc), 0 for any that is gone."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def children_of(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def request_bytes(port: int, token: str, body: bytes) -> bytes:
    return (f"POST /api/v1/deployments/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body


def post_once(port: int, request: bytes) -> bytes:
    """Send one prepared request; the response's status code once the server has closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head = b"".join(chunks)[:12]
    return head[9:12]


def bench_deployments(services, envs, token, bot) -> None:
    port = free_port()
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "x" * 50),
           "SECURE_SSL_REDIRECT": "false", "DB_CONN_MAX_AGE": "600", "LOG_LEVEL": "WARNING",
           "ALLOWED_HOSTS": "127.0.0.1"}
    # BENCH_GUNICORN_THREADS > 1 runs the two workers as gthread workers (an experiment: the
    # figure the issue asks for is the default, plain sync workers).
    gthread = ["--threads", str(GUNICORN_THREADS)] if GUNICORN_THREADS > 1 else []
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "releaseportal.wsgi", "-w", "2", *gthread, "-b",
                               f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=env,
                              start_new_session=True)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        now = timezone.now()
        svcs = services[:20]

        def body(i: int) -> bytes:
            svc = svcs[i % len(svcs)]
            return json.dumps({
                "service": svc.slug, "environment": "dev", "version": f"post-{i}", "status": "succeeded",
                "started_at": (now - timedelta(minutes=10)).isoformat(), "finished_at": now.isoformat(),
                "pipeline_run_id": f"p{i}", "commits": [
                    {"sha": f"{i:020x}{j:020x}", "authored_at": (now - timedelta(hours=j + 1)).isoformat(),
                     "message": f"commit {j}"} for j in range(COMMITS)]}).encode()

        # Warm both workers (and open their database connections): concurrent requests reach both.
        warm = [request_bytes(port, token, body(10_000_000 + i)) for i in range(16)]
        warm_status: list[bytes] = []
        warmers = [threading.Thread(target=lambda part: warm_status.extend(post_once(port, r) for r in part),
                                    args=(warm[k::4],)) for k in range(4)]
        for th in warmers:
            th.start()
        for th in warmers:
            th.join()
        assert warm_status == [b"201"] * len(warm), warm_status
        # The client shares the two cores with the server and the database, so it does as little
        # as it can while timed: every request is built beforehand, and sent and read on a bare
        # socket (gunicorn's sync workers close the connection after each response anyway).
        requests = [request_bytes(port, token, body(i)) for i in range(POSTS)]
        counter = iter(range(POSTS))
        lock = threading.Lock()
        latencies: list[float] = []
        failures: list[bytes] = []

        def worker():
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t = time.perf_counter()
                status = post_once(port, requests[i])
                latencies.append((time.perf_counter() - t) * 1000)
                if status != b"201":
                    failures.append(status)

        threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
        # Where the CPU goes (the machine is shared, so req/s alone says little): the gunicorn
        # workers, their PostgreSQL backends, and this client.
        workers = children_of(server.pid)
        with connection.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'")
            backends = [row[0] for row in cur.fetchall()]
        server_cpu, db_cpu = cpu_seconds(workers), cpu_seconds(backends)
        cpu = time.process_time()
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
        client_cpu = (time.process_time() - cpu) / POSTS * 1000
        server_cpu = (cpu_seconds(workers) - server_cpu) / POSTS * 1000
        db_cpu = (cpu_seconds(backends) - db_cpu) / POSTS * 1000
        rps = POSTS / elapsed
        say(f"(b) POST /api/v1/deployments/ ({COMMITS} commits each) via gunicorn -w 2"
            f"{f' --threads {GUNICORN_THREADS}' if gthread else ''} on 127.0.0.1: {POSTS} requests "
            f"in {elapsed:.1f} s = {rps:.0f} deployments/s, latency p50 {percentile(latencies, 50):.1f} ms "
            f"p95 {percentile(latencies, 95):.1f} ms, non-201: {len(failures)} {sorted(set(failures))[:3]}; "
            f"client CPU {client_cpu:.2f} ms/request ({CLIENT_THREADS} threads)")
        say(f"    CPU per deployment: gunicorn workers {server_cpu:.2f} ms, their PostgreSQL backends {db_cpu:.2f} ms, "
            f"client {client_cpu:.2f} ms; {os.cpu_count()} cores could serve at most "
            f"{(os.cpu_count() or 1) * 1000 / max(server_cpu + db_cpu + client_cpu, 1e-6):.0f}/s of this work")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    # Raw SQL: the same rows (deployment + 20 commits), one transaction each.
    svc_ids = [s.pk for s in services[:20]]
    t = time.perf_counter()
    with connection.cursor() as cur:
        for i in range(POSTS):
            cur.execute("BEGIN")
            cur.execute("INSERT INTO delivery_deployment (service_id, environment_id, version, status, kind, started_at,"
                        " finished_at, pipeline_run_id, pipeline_url, is_unauthorized, created_by_id, created_at,"
                        " external_id, pipeline_template, pipeline_template_version)"
                        " VALUES (%s,%s,%s,'succeeded','normal',now(),now(),%s,'',false,%s,now(),'','','')"
                        " RETURNING id", [svc_ids[i % 20], envs["dev"].pk, f"raw-{i}", f"r{i}", bot.pk])
            dep_id = cur.fetchone()[0]
            cur.executemany("INSERT INTO delivery_deploymentcommit (deployment_id, sha, authored_at, message) "
                            "VALUES (%s,%s,now(),%s)", [(dep_id, f"{i:020x}{j:020x}", f"commit {j}") for j in range(COMMITS)])
            cur.execute("COMMIT")
    raw_elapsed = time.perf_counter() - t
    raw_rps = POSTS / raw_elapsed
    say(f"    raw SQL baseline: {POSTS} deployments + {POSTS * COMMITS} commits in {raw_elapsed:.1f} s = {raw_rps:.0f}/s; "
        f"ratio API / raw = {rps / raw_rps:.2f}")


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: set DATABASE_URL to your own database.")
    call_command("migrate", verbosity=0)
    from apps.audit.actor import Actor, acting_as

    say(f"pipeline API benchmark, scale {SCALE}: {DEPLOYMENTS} deployments stored")
    with acting_as(Actor.for_command("bench_pipeline_api")):
        bot, envs, services, token = setup_fixtures()
        fill(services, envs, bot)
    bench_gate(services, envs, token)
    bench_deployments(services, envs, token, bot)


if __name__ == "__main__":
    main()
