"""The dashboard, drill-downs and the report list: who sees them, what they show, what they cost."""

from __future__ import annotations

import pytest

from apps.reports.models import ReportRun
from apps.reports.periods import Month

pytestmark = pytest.mark.django_db

PAGES = ["/reports/?month=2026-10", "/reports/teams/payments/?month=2026-10",
         "/reports/services/payments-api/?month=2026-10", "/reports/runs/"]


@pytest.fixture
def stored_run(october, executive):
    from apps.reports.scopes import resolve_scope
    from apps.reports.services import report_run_generate

    return report_run_generate(month=Month(2026, 10), scope=resolve_scope(team="identity"), actor=executive)


def _all_urls(run):
    return [*PAGES, f"/reports/runs/{run.pk}/pdf/", f"/reports/runs/{run.pk}/data/"]


def test_anonymous_is_sent_to_the_login_page_everywhere(client, stored_run):
    for url in _all_urls(stored_run):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    assert client.post("/reports/runs/generate/", {"month": "2026-10"}).status_code == 302


@pytest.mark.parametrize("persona", ["outsider", "requester"])
def test_people_without_a_reporting_role_get_403_everywhere(request, client, stored_run, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in _all_urls(stored_run):
        assert client.get(url).status_code == 403, url
    assert client.post("/reports/runs/generate/", {"month": "2026-10"}).status_code == 403
    assert ReportRun.objects.count() == 1


def test_the_dashboard_shows_the_four_keys_charts_and_the_team_table(client, executive, october):
    client.force_login(executive)
    response = client.get("/reports/?month=2026-10")
    assert response.status_code == 200
    html = response.content.decode()
    for title in ("Deployment frequency", "Lead time for changes", "Change failure rate",
                  "Failed deployment recovery time"):
        assert title in html
    assert html.count("<svg") == 5
    assert "57.1 %" in html  # 4 of 7 deployments failed
    assert 'href="/reports/teams/identity/?month=2026-10"' in html
    assert "October 2026" in html


def test_the_team_table_sorts_by_each_metric(client, executive, october):
    client.force_login(executive)
    body = client.get("/reports/?month=2026-10&sort=cfr&dir=desc").content.decode()
    table = body[body.index('id="breakdown"'):]
    # identity: 2 of 3 failed (66.7 %), payments: 2 of 4 (50.0 %)
    assert table.index("Identity") < table.index("Payments")
    body = client.get("/reports/?month=2026-10&sort=cfr&dir=asc").content.decode()
    table = body[body.index('id="breakdown"'):]
    assert table.index("Payments") < table.index("Identity")
    assert 'aria-sort="ascending"' in table


def test_drill_down_to_a_team_and_a_service(client, executive, october):
    client.force_login(executive)
    team = client.get("/reports/teams/payments/?month=2026-10").content.decode()
    assert "DORA metrics · Payments" in team and 'href="/reports/services/payments-api/?month=2026-10"' in team
    service = client.get("/reports/services/auth/?month=2026-10")
    assert service.status_code == 200 and "Auth" in service.content.decode()
    assert client.get("/reports/teams/nope/").status_code == 404


def test_a_team_lead_may_read_the_dashboard(client, team, october):
    from apps.accounts.models import TeamMembership
    from tests.factories import UserFactory

    lead = UserFactory(username="lena")
    TeamMembership.objects.create(team=team, user=lead, role="lead")
    client.force_login(lead)
    assert client.get("/reports/?month=2026-10").status_code == 200


def test_a_bad_month_falls_back_with_a_message(client, auditor, october):
    client.force_login(auditor)
    response = client.get("/reports/?month=2026-13")
    assert response.status_code == 200
    assert "YYYY-MM" in response.content.decode()


def test_the_dashboard_costs_a_fixed_number_of_queries(client, executive, october, deploy,
                                                       django_assert_max_num_queries):
    from tests.factories import ServiceFactory

    client.force_login(executive)
    client.get("/reports/?month=2026-10")  # warm the session; computes and stores the snapshots
    with django_assert_max_num_queries(12) as warm:
        assert client.get("/reports/?month=2026-10").status_code == 200
    assert not any("delivery_deployment" in q["sql"] for q in warm.captured_queries)
    for i in range(5):
        svc = ServiceFactory(slug=f"more-{i}", owner_team=october["auth"].owner_team)
        for day in range(1, 6):
            deploy(svc, f"2026-10-{day:02d} 10:00", commits=[(f"m{i}{day}", f"2026-10-{day:02d} 09:00")])
    # Late October data: the affected snapshots are recomputed, in a bounded number of queries.
    with django_assert_max_num_queries(40):
        assert client.get("/reports/?month=2026-10").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get("/reports/?month=2026-10").status_code == 200
    with django_assert_max_num_queries(30):
        assert client.get("/reports/teams/identity/?month=2026-10").status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get("/reports/teams/identity/?month=2026-10").status_code == 200


def test_the_report_list_offers_each_version_for_download(client, auditor, stored_run):
    client.force_login(auditor)
    body = client.get("/reports/runs/").content.decode()
    assert f"/reports/runs/{stored_run.pk}/pdf/" in body and stored_run.pdf_sha256[:16] in body
    response = client.get(f"/reports/runs/{stored_run.pk}/pdf/")
    assert response.status_code == 200
    assert response["X-Content-SHA256"] == stored_run.pdf_sha256
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert client.get(f"/reports/runs/{stored_run.pk}/data/")["Content-Type"] == "application/zip"
    assert client.get("/reports/runs/999999/pdf/").status_code == 404


def test_auditors_read_but_do_not_generate(client, auditor, october):
    client.force_login(auditor)
    assert client.post("/reports/runs/generate/", {"month": "2026-10"}).status_code == 403
    assert not ReportRun.objects.exists()


def test_an_executive_generates_a_new_version_from_the_browser(client, executive, stored_run):
    client.force_login(executive)
    response = client.post("/reports/runs/generate/", {"month": "2026-10", "team": "identity"})
    assert response.status_code == 302
    assert list(ReportRun.objects.filter(scope_key="team:identity").values_list("version", flat=True)
                .order_by("version")) == [1, 2]
    response = client.post("/reports/runs/generate/", {"month": "bad"}, follow=True)
    assert "YYYY-MM" in response.content.decode()


def test_executives_get_the_four_keys_on_the_home_dashboard(client, executive, requester, october):
    from django.core.cache import cache

    cache.clear()
    client.force_login(executive)
    body = client.get("/").content.decode()
    assert "DORA —" in body and "Open the DORA dashboard" in body
    client.force_login(requester)
    assert "Open the DORA dashboard" not in client.get("/").content.decode()


def test_the_period_and_scope_selector_swaps_only_the_figures_for_htmx(client, executive, outsider, october):
    client.force_login(executive)
    partial = client.get("/reports/?month=2026-10&team=payments", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="figures"') and "<html" not in partial
    assert "DORA metrics · Payments" in partial and "Payments API" in partial
    full = client.get("/reports/?month=2026-10&team=payments").content.decode()
    assert "<html" in full and 'hx-get="/reports/"' in full and 'id="figures"' in full
    assert client.get("/reports/?team=nope").status_code == 404
    client.force_login(outsider)
    assert client.get("/reports/?month=2026-10&team=payments", HTTP_HX_REQUEST="true").status_code == 403
