"""Chat notifications: a real HTTP receiver on 127.0.0.1 standing in for Slack and Teams, team
leads, and channels pointing at the receiver."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

# The part of a webhook URL that is the secret: it must never show up where people or logs see it.
SECRET = "T0SECRET/B0SECRET/xoxSecretTokenValue1234"


class Receiver:
    """Captures every POST; answers each path from its script of statuses (then 200)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.scripts: dict[str, list[int]] = {}
        self.always: dict[str, int] = {}
        self.slow: dict[str, float] = {}  # seconds to wait before answering, per path
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers),
                                           "json": json.loads(body or b"null")})
                    script = receiver.scripts.get(self.path) or []
                    status = script.pop(0) if script else receiver.always.get(self.path, 200)
                    delay = receiver.slow.get(self.path, 0)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"error")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}/{SECRET}"

    def to(self, name: str) -> list[dict]:
        return [p for p in self.posts if p["path"] == f"/{name}/{SECRET}"]


@pytest.fixture(autouse=True)
def _celery_retries_eagerly():
    """Celery's own retries, run in the test: eagerly (no broker), with propagation off, a
    task's Retry re-applies it at once (retries + 1) instead of reaching the caller."""
    from releaseportal.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.fixture
def receiver(settings):
    settings.CHAT_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CHAT_WEBHOOK_ALLOW_HTTP = True
    settings.CHAT_WEBHOOK_TIMEOUT_SECONDS = 3
    settings.SITE_URL = "https://portal.example.test"
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def lead(roles_ready, team):
    """Lena leads payments (the team's `lead`)."""
    from tests.factories import UserFactory

    user = UserFactory(username="lena", roles=("requester",), team=team, first_name="Lena")
    team.lead = user
    team.save()
    return user


@pytest.fixture
def other_lead(roles_ready, other_team):
    """Ines leads identity (a membership with the role lead)."""
    from apps.accounts.models import TeamMembership
    from tests.factories import UserFactory

    user = UserFactory(username="ines", roles=("requester",), first_name="Ines")
    TeamMembership.objects.create(team=other_team, user=user, role=TeamMembership.Role.LEAD)
    return user


@pytest.fixture
def make_channel(receiver):
    """make_channel(team, name, kind="slack", events=all, actor=the team's lead or a superuser)."""
    from apps.notifications.models import ChatEvent
    from apps.notifications.services import chat_channel_create
    from tests.factories import UserFactory

    def make(team, name, kind="slack", events=None, enabled=True, actor=None):
        actor = actor or UserFactory(username="root", is_superuser=True, is_staff=True)
        return chat_channel_create(team=team, actor=actor, kind=kind, name=name, webhook_url=receiver.url(name),
                                   events=events or list(ChatEvent.values), enabled=enabled)

    return make


@pytest.fixture
def simple_type(db):
    from apps.change_types.models import ApprovalStage, ChangeType

    change_type = ChangeType.objects.create(slug="simple", name="Simple")
    ApprovalStage.objects.create(change_type=change_type, order=1, name="Approval", approver_kind="group",
                                 approver_group="approver", rule="any", quorum=1, sla_hours=4, mandatory=True,
                                 applies_when="always", is_cab=False)
    return change_type


@pytest.fixture
def make_change(requester, approver, service, environments, simple_type):
    """make_change(service=payments-api) — a change in staging by rita, not yet submitted."""
    from apps.changes.services import change_create

    def make(service=service, title="Upgrade the widget"):
        start = timezone.now() + timedelta(days=3)
        return change_create(actor=requester, title=title, change_type=simple_type, service=service,
                             environment=environments["staging"], planned_start=start,
                             planned_end=start + timedelta(hours=1), rollback_plan="Redeploy previous",
                             rollback_criteria={"error_rate_pct": 5})

    return make
