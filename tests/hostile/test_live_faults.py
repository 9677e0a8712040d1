"""The fault test of issue 17, against real processes: PostgreSQL restarted and the Celery worker
killed (-9) while the portal is under load.

The portal runs in subprocesses (gunicorn and a prefork Celery worker on a Redis broker) against
a database in a throwaway PostgreSQL cluster on port 5434 (deploy/fault/setup-fault-cluster.sh;
the shared cluster on 5432 is never restarted). While a few threads call API endpoints with a
token and an HTML page with a session:

1. an evidence pack is requested through the API and the monthly report run is queued; both are
   held mid-work by a table lock the test takes, so the worker is killed with a pack "running"
   (its message unacknowledged: only the reaper can free it) and a report run "running";
2. the cluster is restarted: every API answer meanwhile is 200 or the JSON 503 with Retry-After,
   every page 200 or the 503 page, never a 500 or a hang; the same server answers 200 again
   once the database is back (no restart);
3. a new worker starts and the reapers run: the pack is failed with the reason its requester
   reads in the API, the report run is retried and finishes, a pack requested now is made;
   nothing is left running or queued, and `manage.py audit_verify` passes.

Needs root and Debian's pg_ctlcluster (CI runs as root), a PostgreSQL run (DATABASE_URL) and
Redis on 127.0.0.1:6379 (broker database 12, flushed). The cluster's database is copied from a
migrated template kept in the cluster (migrating from scratch takes minutes on a busy machine;
`migrate` then applies only what is new)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "fault" / "setup-fault-cluster.sh"
PORT = 5434
DB = "rp_fault_live"
TEMPLATE = "rp_fault_template"
BROKER = "redis://127.0.0.1:6379/12"
PERIOD = "2026-11"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="restarts a PostgreSQL cluster: needs root (pg_ctlcluster)"),
    pytest.mark.skipif(shutil.which("pg_ctlcluster") is None,
                       reason="needs Debian's pg_ctlcluster to make and restart the throwaway cluster"),
    pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379 for the Celery broker"),
]


# --- the throwaway cluster and the portal's processes -----------------------------------------

def _psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "-d", db, "-XAtqc", sql],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def _flush_broker() -> None:
    with socket.create_connection(("127.0.0.1", 6379), timeout=5) as sock:
        sock.sendall(b"SELECT 12\r\nFLUSHDB\r\n")
        replies = b""
        while replies.count(b"\r\n") < 2:
            replies += sock.recv(64)
    assert replies == b"+OK\r\n+OK\r\n", replies


def _portal_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "CELERY_", "DJANGO_", "PYTEST", "RP_"))}
    env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:{PORT}/{DB}", CELERY_BROKER_URL=BROKER,
               DEBUG="false", SECRET_KEY="fault-test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
               SECURE_SSL_REDIRECT="false", DB_CONN_MAX_AGE="60", RP_VAR_DIR=str(var_dir), LOG_LEVEL="WARNING", LOG_FORMAT="plain",
               PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="tests.hostile.fault_settings", **extra)
    return env


def _django(env: dict[str, str], code: str, timeout: float = 120) -> str:
    """Run `code` in a fresh process with the portal set up; its last stdout line is returned."""
    prelude = "import django; django.setup()\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _database_from_template(env: dict[str, str]) -> None:
    """The test's database: a copy of the migrated template, migrated for what is new, and the
    template refreshed from it (CREATE DATABASE ... TEMPLATE needs a source nobody is connected to)."""
    _psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    has_template = _psql(f"SELECT count(*) FROM pg_database WHERE datname = '{TEMPLATE}'") == "1"
    _psql(f"CREATE DATABASE {DB}" + (f" TEMPLATE {TEMPLATE}" if has_template else ""))
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    _psql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    _psql(f"CREATE DATABASE {TEMPLATE} TEMPLATE {DB}")


SEED = """
import json
from apps.accounts.models import User
from apps.accounts.roles import ensure_roles
from apps.accounts.services import api_token_create
from apps.audit.actor import Actor, acting_as
from apps.audit.packs.scope import CONTROL_PACKS
from django.conf import settings
from django.test import Client
from tests.factories import ServiceFactory, TeamFactory, UserFactory

ensure_roles()
team = TeamFactory(slug="payments", name="Payments")
UserFactory(username="rita", roles=("requester",), team=team)
# A service in the control's compliance scope, so the pack reads the deployments table.
control = sorted(CONTROL_PACKS)[0]
ServiceFactory(slug="payments-api", owner_team=team,
               compliance_scopes=[CONTROL_PACKS[control].compliance_scope or "sox"])
auditor = UserFactory(username="audra", roles=("auditor",))
with acting_as(Actor.for_command("fault-test")) as actor:
    _token, raw = api_token_create(user=auditor, actor=actor, name="fault test",
                                   scopes=["audit:read", "evidence:write", "changes:read"])
browser = Client()
browser.force_login(auditor)
print(json.dumps({"token": raw, "session": browser.cookies[settings.SESSION_COOKIE_NAME].value,
                  "control": control}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    # A process group of its own: the worker is killed with its pool children, as a node dies.
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def _wait(predicate, what: str, timeout: float, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.1)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    worker = _start([sys.executable, "-m", "celery", "-A", "releaseportal", "worker", "--loglevel=INFO",
                     "--concurrency=2", "--without-gossip", "--without-mingle", "--without-heartbeat"], env, log)
    _wait(lambda: "ready" in log.read_text(errors="replace") or worker.poll() is not None, "the Celery worker", 90, log)
    assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
    return worker


# --- HTTP -------------------------------------------------------------------------------------

@dataclass
class Answer:
    at: float
    kind: str  # "api" or "page"
    status: int
    content_type: str
    retry_after: str | None
    body: bytes


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect (to the login page) is an answer of its own here


_opener = urllib.request.build_opener(_NoRedirects)


def _call(base: str, path: str, headers: dict[str, str], *, method: str = "GET", data: bytes | None = None,
          timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Load:
    """Threads calling the API and a page in a loop until stopped, recording every answer."""

    def __init__(self, base: str, token: str, session: str) -> None:
        self.targets = [
            ("api", "/api/v1/changes/", {"Authorization": f"Bearer {token}"}),
            ("api", "/api/v1/evidence-packs/", {"Authorization": f"Bearer {token}"}),
            ("page", "/audit/", {"Cookie": f"sessionid={session}"}),
        ]
        self.base = base
        self.answers: list[Answer] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in self.targets]

    def _run(self, target) -> None:
        kind, path, headers = target
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, response_headers, body = _call(self.base, path, headers)
            except Exception as exc:  # a hang or a dropped connection is a failure of the test
                self.failures.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            self.answers.append(Answer(started, kind, status, response_headers.get("Content-Type", ""),
                                       response_headers.get("Retry-After"), body))
            time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=20)


# --- the test ---------------------------------------------------------------------------------

@pytest.fixture
def fault_portal(tmp_path):
    """The cluster up, a fresh migrated database with an auditor, the server running."""
    subprocess.run([str(SCRIPT)], check=True, capture_output=True, timeout=120)
    _flush_broker()
    env = _portal_env(tmp_path / "var")
    _database_from_template(env)
    seeded = json.loads(_django(env, SEED))
    port = _free_port()
    server_log = tmp_path / "server.log"
    # As deployed (Dockerfile): gunicorn's sync workers, each keeping its database connection
    # (DB_CONN_MAX_AGE=60), so the restart leaves them holding dead connections.
    server = _start([sys.executable, "-m", "gunicorn", "releaseportal.wsgi", "--workers", "2",
                     "--bind", f"127.0.0.1:{port}", "--timeout", "60"], env, server_log)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return _call(base, "/healthz", {}, timeout=2)[0] == 200
        except OSError:
            return False

    processes: dict[str, subprocess.Popen | None] = {"server": server, "worker": None}
    try:
        _wait(healthy, "the portal to answer /healthz", 60, server_log)
        yield {"env": env, "base": base, "tmp": tmp_path, "processes": processes, **seeded}
    finally:
        _stop(processes["worker"], signal.SIGKILL)
        _stop(server)
        _flush_broker()
        subprocess.run([str(SCRIPT), "start"], capture_output=True, timeout=120)
        _psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def _waiting_on_locks() -> int:
    return int(_psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     f"AND datname = '{DB}'"))


def _row(sql: str) -> list[str]:
    return _psql(sql, DB).split("|")


def test_the_portal_survives_a_database_restart_and_a_killed_worker_under_load(fault_portal):
    portal = fault_portal
    env, base, tmp = portal["env"], portal["base"], portal["tmp"]
    api = {"Authorization": f"Bearer {portal['token']}", "Content-Type": "application/json"}
    worker_log = tmp / "worker.log"
    portal["processes"]["worker"] = worker = _start_worker(env, worker_log)

    # The pack's first read after "running" is the deployments table, the report run's is its
    # runs table: while the test holds them locked, both are mid-work in the worker.
    import psycopg

    holder = psycopg.connect(f"host=127.0.0.1 port={PORT} user=postgres dbname={DB}")
    holder.execute("LOCK TABLE delivery_deployment, reports_reportrun IN ACCESS EXCLUSIVE MODE")

    with Load(base, portal["token"], portal["session"]) as load:
        status, _h, body = _call(base, "/api/v1/evidence-packs/", api, method="POST", data=json.dumps(
            {"scope": "control_period", "control": portal["control"], "period_start": "2026-10-01",
             "period_end": "2026-10-31"}).encode())
        assert status == 202, body
        pack_id = json.loads(body)["id"]
        _django(env, f"from apps.reports.tasks import generate_monthly_reports; generate_monthly_reports.delay({PERIOD!r})")
        _wait(lambda: _waiting_on_locks() >= 2, "the pack and the report run to be held mid-work", 60, worker_log)
        assert _row(f"SELECT status FROM audit_evidencepack WHERE id = {pack_id}") == ["running"]
        assert _row(f"SELECT status FROM reports_reportjob WHERE period = '{PERIOD}'") == ["running"]

        # The worker dies with its pool, as a node does: nothing acknowledges or fails the work.
        _stop(worker, signal.SIGKILL)
        holder.rollback()
        holder.close()

        time.sleep(1)
        down_at = time.monotonic()
        subprocess.run([str(SCRIPT), "restart"], check=True, capture_output=True, timeout=120)
        up_at = time.monotonic()
        time.sleep(5)

    assert not load.failures, load.failures[:5]
    answers = load.answers
    unexpected = [(a.kind, a.status, a.body[:200]) for a in answers if a.status not in (200, 503)]
    assert not unexpected, unexpected[:5]
    outage = [a for a in answers if a.status == 503]
    api_503 = [a for a in outage if a.kind == "api"]
    page_503 = [a for a in outage if a.kind == "page"]
    assert api_503 and page_503, f"no 503 seen while the database restarted: {len(answers)} answers"
    print(f"fault: {len(answers)} answers, {len(api_503)} API and {len(page_503)} page 503s "
          f"during a {up_at - down_at:.1f} s restart")
    for answer in api_503:
        assert answer.content_type.startswith("application/json"), answer.content_type
        assert json.loads(answer.body)["error"]["code"] == "service_unavailable"
        assert answer.retry_after and answer.retry_after.isdigit()
    for answer in page_503:
        assert answer.content_type.startswith("text/html"), answer.content_type
        assert answer.retry_after and answer.retry_after.isdigit()
        assert b'http-equiv="refresh"' in answer.body
    # A 503 only around the restart: each gunicorn worker fails at most the first request on
    # the connection it held (Django drops a connection that errored), then reconnects.
    assert all(down_at - 2 <= a.at <= up_at + 2 for a in outage), "503 outside the restart"
    # Recovered without a restart: the same server process answers every kind of call again.
    assert portal["processes"]["server"].poll() is None
    after = [a for a in answers if a.at > up_at + 2]
    assert {(a.kind, a.status) for a in after} == {("api", 200), ("page", 200)}, \
        {(a.kind, a.status) for a in after}

    # Nothing left stuck: a new worker, and the reapers (beat, every five minutes; here with the
    # stuck-work timeout at zero so they act at once).
    portal["processes"]["worker"] = _start_worker(env, tmp / "worker2.log")
    reaped = json.loads(_django({**env, "STUCK_WORK_TIMEOUT_MINUTES": "0"}, (
        "import json\n"
        "from apps.audit.tasks import reap_stuck_evidence_packs\n"
        "from apps.reports.tasks import reap_stuck_report_jobs\n"
        "print(json.dumps([reap_stuck_evidence_packs.apply().get(), reap_stuck_report_jobs.apply().get()]))")))
    assert reaped == [{"failed": 1, "requeued": 0}, {"retried": 1, "failed": 0}]

    from apps.audit.reaper import STUCK_REASON

    status, _h, body = _call(base, f"/api/v1/evidence-packs/{pack_id}/", api)
    assert status == 200
    pack = json.loads(body)
    assert (pack["status"], pack["error"]) == ("failed", STUCK_REASON)

    # The requester asks again: the new worker makes the pack; the retried report run finishes.
    status, _h, body = _call(base, "/api/v1/evidence-packs/", api, method="POST", data=json.dumps(
        {"scope": "control_period", "control": portal["control"], "period_start": "2026-10-01",
         "period_end": "2026-10-31"}).encode())
    assert status == 202, body
    again = json.loads(body)["id"]
    _wait(lambda: _row(f"SELECT status FROM audit_evidencepack WHERE id = {again}") == ["ready"],
          "the pack requested again to be made", 90, tmp / "worker2.log")
    _wait(lambda: _row(f"SELECT status, attempts FROM reports_reportjob WHERE period = '{PERIOD}'") == ["done", "2"],
          "the retried report run to finish", 90, tmp / "worker2.log")
    assert _psql("SELECT (SELECT count(*) FROM audit_evidencepack WHERE status IN ('queued', 'running'))"
                 " + (SELECT count(*) FROM reports_reportjob WHERE status = 'running')", DB) == "0"

    verify = subprocess.run([sys.executable, "manage.py", "audit_verify"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    assert "audit chain intact" in verify.stdout
