"""Team leads read their own team's metrics (pages and API, reports:read) and nothing of other
teams or of the organisation as a whole."""

from __future__ import annotations

import pytest

from apps.accounts.models import TeamMembership
from apps.accounts.roles import allowed_scopes
from apps.reports.models import ReportRun
from apps.reports.periods import Month

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/dora/"


@pytest.fixture
def lena(roles_ready, team):
    """Lead of payments by membership role; no global role at all."""
    from tests.factories import UserFactory

    user = UserFactory(username="lena")
    TeamMembership.objects.create(team=team, user=user, role="lead")
    return user


@pytest.fixture
def leo(roles_ready, other_team):
    """Lead of identity as the team's recorded lead (Team.lead), a plain member otherwise."""
    from tests.factories import UserFactory

    user = UserFactory(username="leo", team=other_team)
    other_team.lead = user
    other_team.save()
    return user


def test_a_lead_may_hold_reports_read_and_a_plain_member_may_not(lena, leo, requester):
    assert "reports:read" in allowed_scopes(lena)
    assert "reports:read" in allowed_scopes(leo)
    assert "reports:read" not in allowed_scopes(requester)  # a member of payments, not its lead


def test_the_lead_reads_their_team_through_the_api(lena, october, api_client_for):
    client = api_client_for(lena, scopes=["reports:read"])
    body = client.get(URL, {"month": "2026-10", "team": "payments"}).json()
    assert body["scope"]["slug"] == "payments" and body["deployment_frequency"]["count"] == 3
    body = client.get(URL, {"month": "2026-10", "service": "payments-api"}).json()
    assert body["scope"]["slug"] == "payments-api"


def test_the_lead_gets_nothing_of_other_teams_or_the_organisation(lena, october, api_client_for):
    client = api_client_for(lena, scopes=["reports:read"])
    for params, field in (({"team": "identity"}, "team"), ({"service": "auth"}, "service"), ({}, "team")):
        response = client.get(URL, {"month": "2026-10", **params})
        assert response.status_code == 403, params
        error = response.json()["error"]
        assert field in error["fields"] and "deployment_frequency" not in response.json()


def test_a_recorded_team_lead_reads_their_team_in_a_browser_session(leo, october, client):
    client.force_login(leo)
    assert client.get(URL, {"month": "2026-10", "team": "identity"}).status_code == 200
    assert client.get(URL, {"month": "2026-10", "team": "payments"}).status_code == 403


def test_the_dashboard_shows_a_lead_their_own_team(lena, october, client):
    client.force_login(lena)
    html = client.get("/reports/?month=2026-10").content.decode()
    assert "DORA metrics · Payments" in html
    assert "Identity" not in html and 'value="">Organisation' not in html
    assert client.get("/reports/teams/payments/?month=2026-10").status_code == 200
    assert client.get("/reports/services/payments-api/?month=2026-10").status_code == 200


def test_other_teams_pages_do_not_exist_for_a_lead(lena, october, client):
    client.force_login(lena)
    for url in ("/reports/teams/identity/", "/reports/services/auth/", "/reports/?team=identity"):
        assert client.get(url).status_code == 404, url


def test_a_lead_downloads_their_team_reports_and_no_others(lena, october, executive, client):
    from apps.reports.scopes import ORGANISATION, resolve_scope
    from apps.reports.services import report_run_generate

    own = report_run_generate(month=Month(2026, 10), scope=resolve_scope(team="payments"), actor=executive)
    org = report_run_generate(month=Month(2026, 10), scope=ORGANISATION, actor=executive)
    other = report_run_generate(month=Month(2026, 10), scope=resolve_scope(team="identity"), actor=executive)
    client.force_login(lena)
    listing = client.get("/reports/runs/").content.decode()
    assert f"/reports/runs/{own.pk}/pdf/" in listing
    assert f"/reports/runs/{org.pk}/pdf/" not in listing and f"/reports/runs/{other.pk}/pdf/" not in listing
    assert client.get(f"/reports/runs/{own.pk}/pdf/").status_code == 200
    for run in (org, other):
        assert client.get(f"/reports/runs/{run.pk}/pdf/").status_code == 404
        assert client.get(f"/reports/runs/{run.pk}/data/").status_code == 404
    assert client.post("/reports/runs/generate/", {"month": "2026-10", "team": "payments"}).status_code == 403
    assert ReportRun.objects.count() == 3
