"""The home page is per role (issue #16): each persona sees the panels of their work, each once,
and none of another role's (auditors and executives never see overdue runbooks), at a fixed
number of queries whatever the number of rows."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REQUESTER = {"My changes", "My deployments", "Active incidents"}
APPROVER = {"Waiting for my decision"}
CAB = {"Waiting for my decision", "Today's CAB meeting", "Open emergency overrides"}
RELEASE_MANAGER = {"Waiting for my decision", "Open emergency overrides", "The next 7 days", "Active freezes",
                   "Releases in progress", "Unauthorised production deployments (30 days)",
                   "Deployments in progress", "Unauthorised provisioning runs (30 days)", "Configuration drift",
                   "Active incidents", "Rollback runbooks overdue for a test"}
AUDITOR = {"Search the audit trail", "Evidence packs", "Audit chain"}
EXECUTIVE = {"DORA"}
ACCESS_ADMIN = {"My open review items"}
EVERY_PANEL = REQUESTER | APPROVER | CAB | RELEASE_MANAGER | AUDITOR | EXECUTIVE | ACCESS_ADMIN


@pytest.fixture
def busy_portal(clock, team, service, environments, requester, release_manager, cab_member):
    """Several rows behind every panel: changes, deployments, a CAB meeting today, a freeze, a
    window, releases under way, an overdue runbook, an evidence pack."""
    from apps.audit.models import EvidencePack
    from apps.change_types.models import ApprovalStage, ChangeType
    from apps.changes.models import CabMeeting, Freeze, MaintenanceWindow
    from apps.changes.services import change_create, change_submit
    from apps.delivery.models import Deployment
    from apps.releases.models import Release, ReleaseState, ReleaseTrain

    now = clock("2026-12-03 09:00")
    change_type = ChangeType.objects.create(slug="simple", name="Simple")
    ApprovalStage.objects.create(change_type=change_type, order=1, name="Approval", approver_kind="group",
                                 approver_group="approver", rule="any", quorum=1, sla_hours=24, mandatory=True,
                                 applies_when="always")
    for n in range(6):
        change = change_create(actor=requester, title=f"Change {n}", change_type=change_type, service=service,
                               environment=environments["staging"], planned_start=now + timedelta(days=2),
                               planned_end=now + timedelta(days=2, hours=1), rollback_plan="Redeploy previous",
                               rollback_criteria={"error_rate_pct": 5})
        change_submit(change=change, actor=requester)
        for status in ("succeeded", "in_progress"):
            Deployment.objects.create(service=service, environment=environments["prod"], change=change,
                                      version=f"1.{n}", status=status, started_at=now - timedelta(hours=n))
    for n in range(3):
        CabMeeting.objects.create(title=f"CAB {n}", starts_at=now + timedelta(hours=n), chair=cab_member)
        Freeze.objects.create(name=f"Freeze {n}", reason="Peak", starts_at=now - timedelta(days=1),
                              ends_at=now + timedelta(days=n + 1))
        MaintenanceWindow.objects.create(name=f"Window {n}", starts_at=now - timedelta(days=7),
                                         duration_minutes=60, rrule="FREQ=DAILY")
    train = ReleaseTrain.objects.create(slug="monthly", name="Monthly")
    for n in range(3):
        Release.objects.create(train=train, name=f"R{n}", planned_start=now + timedelta(days=n),
                               scope_lock_at=now, state=ReleaseState.IN_PROGRESS, created_by=release_manager)
        EvidencePack.objects.create(scope="change", title=f"Pack {n}", requested_by=release_manager,
                                    requested_at=now)
    from apps.incidents.models import Runbook

    Runbook.objects.create(service=service, owner=requester, last_tested_at=now - timedelta(days=400))
    return now


def _parse(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<h2 id="panel-\d+">([^<]+)</h2>', response.content.decode().replace("&#x27;", "'"))


def _titles(client, user) -> list[str]:
    client.force_login(user)
    return _parse(client.get("/"))


def _normalised(titles: list[str]) -> list[str]:
    # "DORA — November 2026" names its month.
    return ["DORA" if t.startswith("DORA") else t for t in titles]


@pytest.mark.parametrize(("persona", "expected"), [
    ("requester", REQUESTER), ("approver", APPROVER), ("cab_member", CAB | APPROVER),
    ("release_manager", RELEASE_MANAGER), ("auditor", AUDITOR), ("executive", EXECUTIVE),
    ("access_admin", ACCESS_ADMIN),
])
def test_each_role_sees_its_panels_once_and_no_other(request, client, busy_portal, persona, expected,
                                                     django_assert_max_num_queries):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    client.get("/")  # warm the per-process caches (the DORA card, the anchor) out of the count
    # The release manager's eleven panels are the most: ~26 queries, whatever the rows.
    with django_assert_max_num_queries(28):
        response = client.get("/")
    titles = _normalised(_parse(response))
    assert len(titles) == len(set(titles)), f"a panel shown twice: {titles}"
    assert set(titles) == expected, f"{persona}: missing {expected - set(titles)}, foreign {set(titles) - expected}"


def test_auditor_and_executive_never_see_overdue_runbooks_or_incidents(client, busy_portal, auditor, executive):
    for user in (auditor, executive):
        titles = _titles(client, user)
        assert "Rollback runbooks overdue for a test" not in titles
        assert "Active incidents" not in titles
        assert "Waiting for my decision" not in titles


def test_several_roles_see_the_union_of_their_panels_each_once(client, busy_portal, roles_ready, team):
    both = UserFactory(username="heidi", roles=("release_manager", "cab_member", "auditor"), team=team)
    titles = _normalised(_titles(client, both))
    assert len(titles) == len(set(titles))
    assert set(titles) == RELEASE_MANAGER | CAB | AUDITOR


def test_the_requesters_panels_list_their_own_changes_and_deployments(client, busy_portal, requester):
    client.force_login(requester)
    html = client.get("/").content.decode()
    assert "Change 5" in html and "CHG-" in html
    assert "1.0 → Production" in html  # the newest deployment of one of their changes


def test_the_cab_member_sees_todays_meeting_and_the_executive_the_last_report(client, busy_portal, cab_member,
                                                                               executive):
    client.force_login(cab_member)
    assert "CAB 0" in client.get("/").content.decode()
    client.force_login(executive)
    assert "No monthly report has been generated yet." in client.get("/").content.decode()


def test_a_person_without_a_role_sees_no_panel(client, busy_portal, outsider):
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert not set(_normalised(_titles(client, outsider))) & EVERY_PANEL
